"""Benchmark (not a test): HW1's EM (the solution's code) against scikit-learn's GaussianMixture.

    python -m tests.benchmarks.bench_em

10,000 points in 2-D, K = 5, the same initial parameters and 100 iterations for both; prints the final
log-likelihoods, their relative difference and the time ratio (goal: within 1.5x of scikit-learn's time).
"""

import json
import math
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from utils.authoring import source_text
from utils.config import REPO_ROOT

ANSWERS = ("q2a-code", "q2b-code", "q2c-code", "q2e-code")


def solution_functions() -> dict:
    """Execute the solution's EM answer cells and return their namespace."""
    notebook = json.loads((REPO_ROOT / "solutions" / "hw1.ipynb").read_text())
    namespace = {"torch": torch, "math": math, "F": F}
    for cell in notebook["cells"]:
        if cell["id"] in ANSWERS:
            exec(source_text(cell), namespace)
    return namespace


warnings.filterwarnings("ignore", category=ConvergenceWarning)  # tol=0 runs every iteration, on purpose


def main(n: int = 10_000, k: int = 5, iterations: int = 100, ridge: float = 1e-6, repeats: int = 3) -> None:
    em = solution_functions()
    generator = torch.Generator().manual_seed(0)
    centers = 4 * torch.randn(k, 2, generator=generator, dtype=torch.float64)
    X = centers[torch.randint(0, k, (n,), generator=generator)] + torch.randn(
        n, 2, generator=generator, dtype=torch.float64
    )
    init = (torch.full((k,), 1 / k, dtype=torch.float64), X[torch.randperm(n, generator=generator)[:k]].clone(),
            torch.eye(2, dtype=torch.float64).repeat(k, 1, 1))  # fmt: skip

    ours_times, theirs_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        weights, means, covs, _ = em["fit_gmm"](X, *init, iterations, ridge)
        ours_times.append(time.perf_counter() - start)
        sklearn_gmm = GaussianMixture(
            k, covariance_type="full", reg_covar=ridge, max_iter=iterations, tol=0.0, init_params="random_from_data",
            weights_init=init[0].numpy(), means_init=init[1].numpy(), precisions_init=np.linalg.inv(init[2].numpy()),
        )  # fmt: skip
        start = time.perf_counter()
        sklearn_gmm.fit(X.numpy())
        theirs_times.append(time.perf_counter() - start)
    ours = em["gmm_log_likelihood"](X, weights, means, covs).sum().item()
    theirs = sklearn_gmm.score(X.numpy()) * n
    print(f"EM on {n:,} x 2 points, K = {k}, {iterations} iterations, best of {repeats}")
    relative = abs(ours - theirs) / abs(theirs)
    print(f"log-likelihood: ours {ours:.6f}, scikit-learn {theirs:.6f} (relative difference {relative:.1e})")
    print(f"time: ours {min(ours_times):.3f} s, scikit-learn {min(theirs_times):.3f} s, "
          f"ratio {min(ours_times) / min(theirs_times):.2f}x (torch threads: {torch.get_num_threads()})")  # fmt: skip


if __name__ == "__main__":
    main()
