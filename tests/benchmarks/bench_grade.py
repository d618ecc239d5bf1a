"""Benchmark of the autograder on HW0 (not a test): seconds per submission and for a batch of 20.

    python -m tests.benchmarks.bench_grade            # GM_DATA as for the tests

Prints the time of the reference run, of one submission, and of a batch of 20 typical submissions (solutions,
blanks and subtly wrong answers) with --jobs 1 and --jobs 2, and the speed-up.
"""

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests import hostile
from utils import grade


def typical_batch(folder: Path, count: int) -> list[Path]:
    answers = {a: hostile.solved(a) for a in hostile.ANSWER_IDS}
    kinds = [hostile.notebook_with(answers), hostile.STUDENT]
    kinds += [hostile.notebook_with(hostile.mutated(name)) for name in list(hostile.MUTANTS)[:5]]
    return [hostile.write(folder / f"student{i:02d}.ipynb", kinds[i % len(kinds)]) for i in range(count)]


def timed(paths: list[Path], jobs: int) -> tuple[float, float]:
    """(seconds for the reference run, seconds for the submissions) with ``jobs`` workers."""
    settings = grade.Settings(jobs=jobs)
    start = time.perf_counter()
    assignment = grade.Assignment("hw0", settings)
    middle = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(assignment.grade_one, paths))
    end = time.perf_counter()
    assert len(rows) == len(paths) and all(r.status == "graded" for r in rows)
    return middle - start, end - middle


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = typical_batch(Path(folder), 20)
        reference, one = timed(paths[:1], jobs=1)
        print(f"reference run (solution, once per batch): {reference:6.1f} s")
        print(f"one submission:                            {one:6.1f} s")
        for jobs in (1, 2):
            _, batch = timed(paths, jobs)
            print(f"batch of 20, --jobs {jobs}: {batch:6.1f} s  ({batch / 20:.1f} s per submission)")
            if jobs == 1:
                serial = batch
        print(f"speed-up with 2 jobs: {serial / batch:.2f}x")


if __name__ == "__main__":
    main()
