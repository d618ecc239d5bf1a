"""Benchmark (not a test): how far HW3's training results sit from their thresholds, over training seeds.

    GM_SMOKE=1 python -m tests.benchmarks.bench_hw3_margins --seeds 8    # GM_DATA as for the tests

The graded training results (q3b, q4c, q4d) compare a trained generator with an untrained one, as a ratio of
Fréchet distances that must stay at most 1. Their seeds are fixed, so a correct homework differs from the reference
only by round-off in the trajectory (a correct answer written another way sums in another order). This script
runs the solution's code cells (not the graded cells) once per seed offset, which changes every network's
initialization: a far larger perturbation than round-off. It prints the three ratios per run and writes them to
``tests/benchmarks/hw3_margins.json``, which ``tests/test_grade_hw3.py`` reads.
"""

import argparse
import hashlib
import json
import math
import os
import time

import matplotlib
import numpy as np

from utils.authoring import source_text
from utils.config import REPO_ROOT, is_smoke

OUTPUT = REPO_ROOT / "tests" / "benchmarks" / "hw3_margins.json"
SKIPPED = ("colab-setup", "torchmetrics", "results")  # setup of Colab, library cross-checks, printing


def training_code_digest() -> str:
    """A digest of the solution's code cells that this benchmark runs: the margins file is stale when it changes."""
    notebook = json.loads((REPO_ROOT / "solutions" / "hw3.ipynb").read_text())
    digest = hashlib.sha256()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and cell["metadata"].get("grader", {}).get("kind") != "graded":
            digest.update(source_text(cell).encode())
    return digest.hexdigest()


def run_solution(seed_offset: int) -> dict[str, float]:
    """Execute the solution's code cells with every ``seed_everything(s)`` turned into ``s + seed_offset``;
    return the ratios the graded training results report (before FID_MARGIN, which is 1 in smoke mode)."""
    notebook = json.loads((REPO_ROOT / "solutions" / "hw3.ipynb").read_text())
    namespace: dict = {}
    for cell in notebook["cells"]:
        kind = cell["metadata"].get("grader", {}).get("kind")
        if cell["cell_type"] != "code" or kind == "graded" or cell["id"] in SKIPPED:
            continue
        exec(source_text(cell), namespace)
        if cell["id"] == "setup":
            seed_everything = namespace["seed_everything"]
            namespace["seed_everything"] = lambda seed=0: seed_everything(seed + seed_offset)
            namespace["generator"] = seed_everything(seed_offset)
    scores = namespace["scores"]
    untrained = scores["untrained generator"]["FID"]
    return {"q3b": namespace["dc_pixel_fd"] / namespace["untrained_pixel_fd"],
            "q4c": scores["WGAN-clip"]["FID"] / untrained,
            "q4d": scores["WGAN-GP"]["FID"] / untrained}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="runs, with seed offsets 0, 1000, 2000, ...")
    args = parser.parse_args()
    if not is_smoke():
        raise SystemExit("run with GM_SMOKE=1: the grader's scale")
    matplotlib.use("Agg")
    os.environ.setdefault("TQDM_DISABLE", "1")
    ratios: dict[str, list[float]] = {"q3b": [], "q4c": [], "q4d": []}
    for k in range(args.seeds):
        start = time.time()
        for cell, ratio in run_solution(1000 * k).items():
            ratios[cell].append(ratio)
        print(f"seed offset {1000 * k}: " + ", ".join(f"{c} {r[-1]:.4f}" for c, r in ratios.items())
              + f" ({time.time() - start:.0f} s)", flush=True)
    summary = {}
    for cell, values in ratios.items():
        mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
        summary[cell] = {"mean": mean, "sd": sd, "max": max(values), "z": (1 - mean) / sd if sd > 0 else math.inf}
        print(f"{cell}: ratio {mean:.4f} +- {sd:.4f} (sd over {len(values)} seeds), largest {max(values):.4f}; "
              f"the threshold 1 is {summary[cell]['z']:.1f} sd away")
    OUTPUT.write_text(json.dumps({"scale": "smoke", "solution_digest": training_code_digest(), "seed_offsets": [1000 * k for k in range(args.seeds)],
                                  "ratios": ratios, "summary": summary}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {OUTPUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
