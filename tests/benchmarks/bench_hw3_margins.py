"""Benchmark (not a test): how far HW3's training results sit from their thresholds.

    GM_SMOKE=1 python -m tests.benchmarks.bench_hw3_margins --mode round-off --runs 16   # GM_DATA as for the tests
    GM_SMOKE=1 python -m tests.benchmarks.bench_hw3_margins --mode seeds --runs 16

The graded training results (q3b, q4c, q4d) compare a trained generator with an untrained one, as a ratio of
Fréchet distances that must stay at most 1. Their seeds are fixed in the given code, so a correct homework differs
from the reference only by round-off (a correct answer written another way sums in another order), which training
amplifies. This script runs the solution's code cells (not the graded cells) once per run and prints the three
ratios, in one of two modes:

- ``round-off`` (what a correct homework changes): the reference's seeds, and before every optimizer step noise
  added to every gradient, 1e-7 times that gradient's root mean square (``z`` standard normal, its own generator per
  run): float32's round-off (6e-8 relative) of a sum, at the scale of its terms, as a correct answer that sums in
  another order causes at every step. Written to ``tests/benchmarks/hw3_round_off.json``.
- ``seeds`` (a far larger change, for scale): every ``seed_everything(s)`` turned into ``s + 1000 k``, which changes
  every initialization and the order of the data. Written to ``tests/benchmarks/hw3_margins.json``.

``tests/test_grade_hw3.py`` reads both.
"""

import argparse
import hashlib
import json
import math
import os
import time

import matplotlib
import numpy as np
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from utils.authoring import source_text
from utils.config import REPO_ROOT, is_smoke

OUTPUTS = {"seeds": REPO_ROOT / "tests" / "benchmarks" / "hw3_margins.json",
           "round-off": REPO_ROOT / "tests" / "benchmarks" / "hw3_round_off.json"}
RELATIVE_PERTURBATION = 1e-7  # round-off mode: gradient noise, relative to each gradient's root mean square
SKIPPED = ("colab-setup", "torchmetrics", "results")  # setup of Colab, library cross-checks, printing


def training_code_digest() -> str:
    """A digest of the solution's code cells that this benchmark runs: the margins file is stale when it changes."""
    notebook = json.loads((REPO_ROOT / "solutions" / "hw3.ipynb").read_text())
    digest = hashlib.sha256()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and cell["metadata"].get("grader", {}).get("kind") != "graded":
            digest.update(source_text(cell).encode())
    return digest.hexdigest()


def perturb_every_gradient(draws: torch.Generator):
    """Register a hook, common to all optimizers, that adds to every gradient, just before the step, noise of
    1e-7 times that gradient's root mean square; returns its handle (``.remove()`` it)."""

    @torch.no_grad()
    def perturb(optimizer, args, kwargs):
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    scale = RELATIVE_PERTURBATION * parameter.grad.double().pow(2).mean().sqrt()
                    noise = torch.randn(parameter.shape, generator=draws, dtype=torch.float64)
                    parameter.grad.add_((scale * noise).to(parameter.grad.dtype))

    return register_optimizer_step_pre_hook(perturb)


def run_solution(seed_offset: int = 0, perturbation: int | None = None) -> dict[str, float]:
    """Execute the solution's code cells with every ``seed_everything(s)`` turned into ``s + seed_offset`` and, if
    ``perturbation`` is given, every gradient perturbed with draws seeded by it; return the
    ratios the graded training results report (before FID_MARGIN, which is 1 in smoke mode)."""
    notebook = json.loads((REPO_ROOT / "solutions" / "hw3.ipynb").read_text())
    namespace: dict = {}
    hook = None if perturbation is None else perturb_every_gradient(torch.Generator().manual_seed(perturbation))
    try:
        for cell in notebook["cells"]:
            kind = cell["metadata"].get("grader", {}).get("kind")
            if cell["cell_type"] != "code" or kind == "graded" or cell["id"] in SKIPPED:
                continue
            exec(source_text(cell), namespace)
            if cell["id"] == "setup":
                seed_everything = namespace["seed_everything"]
                namespace["seed_everything"] = lambda seed=0: seed_everything(seed + seed_offset)
                namespace["generator"] = seed_everything(seed_offset)
    finally:  # the hook is global: never leave it behind
        if hook is not None:
            hook.remove()
    scores = namespace["scores"]
    untrained = scores["untrained generator"]["FID"]
    return {"q3b": namespace["dc_pixel_fd"] / namespace["untrained_pixel_fd"],
            "q4c": scores["WGAN-clip"]["FID"] / untrained,
            "q4d": scores["WGAN-GP"]["FID"] / untrained}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=list(OUTPUTS), default="round-off")
    parser.add_argument("--runs", type=int, default=16)
    args = parser.parse_args()
    if not is_smoke():
        raise SystemExit("run with GM_SMOKE=1: the grader's scale")
    matplotlib.use("Agg")
    os.environ.setdefault("TQDM_DISABLE", "1")
    ratios: dict[str, list[float]] = {"q3b": [], "q4c": [], "q4d": []}
    for k in range(args.runs):
        start = time.time()
        run = run_solution(1000 * k) if args.mode == "seeds" else run_solution(perturbation=k)
        for cell, ratio in run.items():
            ratios[cell].append(ratio)
        print(f"{args.mode} run {k}: " + ", ".join(f"{c} {r[-1]:.4f}" for c, r in ratios.items())
              + f" ({time.time() - start:.0f} s)", flush=True)
    summary = {}
    for cell, values in ratios.items():
        mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
        summary[cell] = {"mean": mean, "sd": sd, "max": max(values), "z": (1 - mean) / sd if sd > 0 else math.inf}
        print(f"{cell}: ratio {mean:.4f} +- {sd:.4f} (sd over {len(values)} runs), largest {max(values):.4f}; "
              f"the threshold 1 is {summary[cell]['z']:.1f} sd away")
    output = OUTPUTS[args.mode]
    output.write_text(json.dumps({"scale": "smoke", "mode": args.mode, "solution_digest": training_code_digest(),
                                  "runs": args.runs, "ratios": ratios, "summary": summary}, indent=1) + "\n")
    print(f"wrote {output.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
