"""Upper bounds on the probability that a correct answer, which draws its randomness differently from the
reference solution, fails a randomized check of the autograder (two-sample KS tests, frequency and rate bands)."""

import math

from scipy import stats


def ks_two_sample_false_fail(n: int, alpha: float) -> float:
    """P(scipy's two-sample KS p-value <= alpha) for two independent samples of size n of one continuous law.

    scipy's ``ks_2samp`` is exact for n <= 10,000 (then the answer is at most alpha); beyond, it uses
    ``kstwo.sf(d, round(n / 2))``: find the smallest D = k / n it rejects and take its exact probability,
    P(D_nn >= k / n) = 2 sum_j (-1)^(j+1) C(2n, n - jk) / C(2n, n) (Gnedenko and Korolyuk).
    """
    if n <= 10_000:
        return alpha
    low, high = 1, n  # smallest k with sf(k / n) <= alpha
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if stats.kstwo.sf(mid / n, round(n / 2)) <= alpha else (mid + 1, high)
    k = low

    def log_ratio(j):  # log C(2n, n - jk) - log C(2n, n)
        return 2 * math.lgamma(n + 1) - math.lgamma(n - j * k + 1) - math.lgamma(n + j * k + 1)

    return 2 * sum((-1) ** (j + 1) * math.exp(log_ratio(j)) for j in range(1, n // k + 1))


def hoeffding_frequencies(n: int, probs, reference, band: float) -> float:
    """P(some frequency of n draws is more than ``band`` from the reference's), by Hoeffding per class."""
    total = 0.0
    for p, f in zip(probs, reference, strict=True):
        if p > 0:
            t = band - abs(f - p)
            assert t > 0
            total += 2 * math.exp(-2 * n * t * t)
    return total


def hoeffding_rate(n: int, p: float, reference: float, band: float) -> float:
    """P(the acceptance rate after T >= n proposals is more than ``band`` from the reference's), whatever the
    batches or the stopping rule: a union over T >= n of 2 exp(-2 T t^2)."""
    t = band - abs(reference - p)
    assert t > 0
    return 2 * math.exp(-2 * n * t * t) / (1 - math.exp(-2 * t * t))
