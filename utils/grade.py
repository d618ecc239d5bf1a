"""Autograder: grade a folder of submitted notebooks with one command.

    python -m utils.grade hw1 submissions/*.ipynb --out grades.csv --json grades.json --jobs 2

For each submission: take its answer cells (matched by ``grader.id``), put them into the canonical solution
notebook (graded cells and hidden tests come from the solution, never from the student), run that notebook with
nbval in a sandbox (:mod:`utils.sandbox`) with a per-cell and a per-submission time limit, and award a graded
cell's points when it ran without error **and** every value it reported (:func:`utils.grading.report`) matches
the value the canonical solution reported, compared here, outside the student's process.

Smoke mode (``GM_SMOKE=1``) is the default, so training cells run at small size; ``--full`` runs at full size.
Exit status 0 whenever every submission got a row (zero scores included); 2 for the instructor's own errors.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox
from .colab import dump_notebook
from .config import REPO_ROOT, data_root
from .grading import compare_record
from .release import BEGIN_HIDDEN, END_HIDDEN, source_text, validate_solution
from .submission import Answers, UnreadableSubmission, assemble, find_answers, read_submission

MAX_RESULTS_BYTES = 64 * 2**20


class InstructorError(Exception):
    """A problem with the assignment or the command line, not with a submission."""


@dataclass
class Settings:
    cell_timeout: float = 120.0
    timeout: float = 600.0
    full: bool = False
    jobs: int = 1


@dataclass
class Row:
    submission: str
    status: str  # graded | unreadable | timeout | error
    score: float
    max_score: float
    points: dict[str, float]
    reasons: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    isolation: str = ""


@dataclass
class Execution:
    cells: dict[int, dict]  # code-cell index -> the plugin's result line
    conflicts: set[int]
    timed_out: bool
    seconds: float
    isolation: str
    log_tail: str


# ------------------------------------------------------------------------------------------- assignment
def resolve_assignment(name: str) -> Path:
    """``hw1`` -> ``solutions/hw1.ipynb``; a path to a solution notebook is taken as it is."""
    path = Path(name)
    if path.suffix != ".ipynb":
        path = REPO_ROOT / "solutions" / f"{name}.ipynb"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted((REPO_ROOT / "solutions").glob("hw*.ipynb")))
        raise InstructorError(f"unknown assignment {name!r}: no {path} (known: {known})")
    return path.resolve()


def graded_points(solution: dict) -> dict[str, float]:
    """``{graded cell id: points}`` in notebook order."""
    return {
        c["id"]: c["metadata"]["grader"]["points"]
        for c in solution["cells"]
        if c.get("metadata", {}).get("grader", {}).get("kind") == "graded"
    }


def code_cell_ids(notebook: dict) -> list[str]:
    """Cell ids of the code cells, in the order nbval numbers them."""
    return [c["id"] for c in notebook["cells"] if c["cell_type"] == "code"]


# ------------------------------------------------------------------------------------------- execution
def execute(notebook: dict, settings: Settings, hide: list[Path]) -> Execution:
    """Run ``notebook`` under nbval in a sandbox; collect the plugin's per-cell results."""
    with tempfile.TemporaryDirectory(prefix="gm-grade-") as scratch:
        scratch = Path(scratch)
        workdir = scratch / "work"  # the only folder the notebook may write to
        for sub in ("home", "cache"):
            (workdir / sub).mkdir(parents=True)
        (workdir / "submission.ipynb").write_text(dump_notebook(notebook), encoding="utf-8")
        inside = Path(sandbox.SANDBOX_WORKDIR) if sandbox.bubblewrap_works() else workdir
        results_fd = os.open(scratch / "results.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        log_fd = os.open(scratch / "pytest.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        threads = str(max(1, (os.cpu_count() or 1) // settings.jobs))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(inside / "home"),
            "IPYTHONDIR": str(inside / "home" / ".ipython"),
            "MPLCONFIGDIR": str(inside / "home" / ".matplotlib"),
            "JUPYTER_RUNTIME_DIR": str(inside / "home" / "runtime"),
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "GM_SMOKE": "0" if settings.full else "1",
            "GM_DATA": str(data_root()),
            "GM_CACHE": str(inside / "cache"),
            "TQDM_DISABLE": "1",
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OMP_WAIT_POLICY": "PASSIVE",  # parallel jobs share the cores: idle threads must not spin
            "GM_GRADE_RESULTS_FD": str(results_fd),
        }
        argv = [
            sys.executable, "-m", "pytest", "-p", "utils.grade_plugin", "-p", "no:cacheprovider",
            "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={settings.cell_timeout:g}",
            "-q", "-o", "addopts=", "--rootdir", str(inside), str(inside / "submission.ipynb"),
        ]  # fmt: skip
        limits = sandbox.Limits(timeout=settings.timeout, memory_bytes=None if settings.full else 6 * 2**30)
        expose = [REPO_ROOT, data_root(), Path(sys.prefix), Path(sys.base_prefix)]
        try:
            run = sandbox.run(argv, workdir, env, limits, expose, hide, pass_fds=(results_fd,), stdout=log_fd)
        finally:
            os.close(results_fd)
            os.close(log_fd)
        cells, conflicts = _read_results(scratch / "results.jsonl")
        log = (scratch / "pytest.log").read_bytes()[-4000:].decode("utf-8", "replace")
    return Execution(cells, conflicts, run.timed_out, run.seconds, run.isolation, log)


def _read_results(path: Path) -> tuple[dict[int, dict], set[int]]:
    """Parse the plugin's JSON lines (written by a process the student shared: check every field)."""
    cells: dict[int, dict] = {}
    conflicts: set[int] = set()
    with open(path, "rb") as f:
        text = f.read(MAX_RESULTS_BYTES).decode("utf-8", "replace")
    for line in text.splitlines():
        try:
            result = json.loads(line)
            index = result["index"]
            if not isinstance(index, int) or not isinstance(result.get("records"), list):
                continue
        except (ValueError, KeyError, TypeError):
            continue
        if index in cells:
            conflicts.add(index)  # one line per cell is all the plugin writes
        cells[index] = result
    return cells, conflicts


# ------------------------------------------------------------------------------------------- scoring
def reference_records(solution: dict, settings: Settings, hide: list[Path]) -> dict[str, list[dict]]:
    """Run the canonical solution and return, per graded cell id, the values it reports. Every cell must pass."""
    answer_cells = [c for c in solution["cells"] if c["metadata"].get("grader", {}).get("kind") == "answer"]
    answers = Answers(sources={c["id"]: source_text(c) for c in answer_cells})
    execution = execute(assemble(solution, answers), settings, hide)
    ids = code_cell_ids(solution)
    failures = [f"cell {ids[i]}: {r.get('error')}" for i, r in execution.cells.items() if r.get("outcome") != "passed"]
    if execution.timed_out or failures or len(execution.cells) != len(ids):
        detail = "; ".join(failures) or execution.log_tail[-1500:]
        raise InstructorError(f"the solution notebook does not run cleanly under the grader: {detail}")
    records = {}
    for index, cell_id in enumerate(ids):
        names = [r["name"] for r in execution.cells[index]["records"]]
        if len(names) != len(set(names)):
            raise InstructorError(f"graded cell {cell_id} reports the same name twice")
        records[cell_id] = execution.cells[index]["records"]
    return records


def plain_error(result: dict, cell: dict) -> str:
    """The failure of one cell in words a student can act on, never quoting a hidden test."""
    error = str(result.get("error") or "failed")[:500]
    if "Failed to interrupt kernel" in error or "Kernel dead" in error:
        return "the kernel died or stopped responding (os._exit, a crash, memory exhausted, or an endless loop)"
    if error.startswith("Timeout of") or (result.get("xfail") and error.startswith("KeyboardInterrupt")):
        return "exceeded the time limit per cell"
    line = result.get("line")
    lines = source_text(cell).split("\n")
    if isinstance(line, int) and 1 <= line <= len(lines) and cell["metadata"].get("grader", {}).get("kind") == "graded":
        hidden = _hidden_line_numbers(lines)
        where = "in a hidden test" if line in hidden else f"at line {line}: {lines[line - 1].strip()[:200]}"
        error = f"{error} ({where})"
    if result.get("xfail"):
        error += " (after a cell timed out earlier)"
    return error


def _hidden_line_numbers(lines: list[str]) -> set[int]:
    hidden, inside = set(), False
    for number, text in enumerate(lines, start=1):
        if text.strip() == BEGIN_HIDDEN:
            inside = True
        if inside:
            hidden.add(number)
        if text.strip() == END_HIDDEN:
            inside = False
    return hidden


def score(solution: dict, reference: dict[str, list[dict]], execution: Execution) -> tuple[dict, dict, list[str]]:
    """Points and reasons per graded cell, and notes about answer cells that raised."""
    points, reasons, notes = {}, {}, []
    ids = code_cell_ids(solution)
    cells = {c["id"]: c for c in solution["cells"]}
    for index, cell_id in enumerate(ids):
        result = execution.cells.get(index)
        if cells[cell_id]["metadata"].get("grader", {}).get("kind") == "answer" and result:
            if result.get("outcome") != "passed":
                notes.append(f"answer cell {cell_id}: {plain_error(result, cells[cell_id])[:300]}")
    for cell_id, max_points in graded_points(solution).items():
        index = ids.index(cell_id)
        result, why = execution.cells.get(index), []
        if index in execution.conflicts:
            why.append("conflicting results were reported for this cell")
        elif result is None:
            why.append("did not run (the kernel died or the time limit was reached)")
        elif result.get("outcome") != "passed":
            why.append(plain_error(result, cells[cell_id]))
        if not why:
            student = {}
            for record in result["records"]:
                name = record.get("name") if isinstance(record, dict) else None
                if isinstance(name, str):
                    student[name] = None if name in student else record  # a name reported twice counts as missing
            why = [r for ref in reference[cell_id] if (r := compare_record(ref, student.get(ref["name"])))]
        points[cell_id] = 0 if why else max_points
        if why:
            reasons[cell_id] = why
    return points, reasons, notes


def grade_one(path: Path, solution: dict, reference: dict, settings: Settings, hide: list[Path]) -> Row:
    """Grade one submission; never raises for anything the submission contains."""
    graded = graded_points(solution)
    zero = dict.fromkeys(graded, 0)
    max_score = sum(graded.values())
    try:
        submission = read_submission(path)
    except UnreadableSubmission as err:
        return Row(str(path), "unreadable", 0, max_score, zero, note=str(err))
    try:
        answers = find_answers(submission, solution)
        execution = execute(assemble(solution, answers), settings, hide)
        points, reasons, answer_notes = score(solution, reference, execution)
    except Exception as err:  # noqa: BLE001 - a row for every submission, whatever happened
        return Row(str(path), "error", 0, max_score, zero, note=f"grader error: {type(err).__name__}: {err}"[:500])
    notes = answers.notes + answer_notes
    status = "graded"
    if execution.timed_out:
        status = "timeout"
        notes.append(f"stopped after the {settings.timeout:g} s limit per submission")
    elif any(r.get("xfail") for r in execution.cells.values()):
        notes.append(f"a cell exceeded the {settings.cell_timeout:g} s cell limit")
    if len(execution.cells) < len(code_cell_ids(solution)) and not execution.timed_out:
        notes.append("the kernel stopped before the last cell")
    return Row(
        str(path), status, sum(points.values()), max_score, points, reasons, "; ".join(notes),
        round(execution.seconds, 2), execution.isolation,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------- reports
def write_csv(rows: list[Row], graded_ids: list[str], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "status", "score", "max_score", *graded_ids, "note"])
        for row in rows:
            writer.writerow([row.submission, row.status, row.score, row.max_score,
                             *(row.points.get(g, 0) for g in graded_ids), row.note])  # fmt: skip


def hidden_paths(solution_path: Path, submissions: list[Path]) -> list[Path]:
    """What the student's kernel must not see: solutions, git history, the submissions themselves."""
    hide = [REPO_ROOT / "solutions", REPO_ROOT / ".git", solution_path, *submissions]
    return [p for p in hide if p.exists()]


def grade(assignment: str, submissions: list[Path], settings: Settings) -> list[Row]:
    solution_path = resolve_assignment(assignment)
    solution = json.loads(solution_path.read_text(encoding="utf-8"))
    validate_solution(solution, solution_path.name)
    if not graded_points(solution):
        raise InstructorError(f"{solution_path} has no graded cells")
    hide = hidden_paths(solution_path, submissions)
    reference = reference_records(solution, settings, hide)
    args = [(p, solution, reference, settings, hide) for p in submissions]
    if settings.jobs == 1:
        return [grade_one(*a) for a in args]
    with ProcessPoolExecutor(max_workers=settings.jobs) as pool:  # processes: preexec_fn is unsafe in threads
        return list(pool.map(grade_one, *zip(*args, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="hw0..hw3, or the path of a solution notebook")
    parser.add_argument("submissions", nargs="*", type=Path, help="submitted .ipynb files")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV report (default grades.csv)")
    parser.add_argument("--json", type=Path, help="JSON report with the reasons for every lost point")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--cell-timeout", type=float, default=120.0, help="seconds per cell (default 120)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per submission (default 600)")
    parser.add_argument("--full", action="store_true", help="full size instead of smoke mode (use a GPU)")
    args = parser.parse_args(argv)
    if not args.submissions:
        print("error: no submission files given", file=sys.stderr)
        return 2
    settings = Settings(args.cell_timeout, args.timeout, args.full, max(1, args.jobs))
    try:
        rows = grade(args.assignment, args.submissions, settings)
    except InstructorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    graded_ids = list(rows[0].points)
    write_csv(rows, graded_ids, args.out)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")
    for row in rows:
        print(f"{row.status:>10}  {row.score:g}/{row.max_score:g}  {row.submission}  {row.note}")
    print(f"{len(rows)} submissions graded; {args.out} written" + (f", {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
