import math

import numpy as np
import pytest
import scipy.linalg
import torch

from utils import metrics


def test_frechet_distance_1d_closed_form():
    # N(0, 1) vs N(1, 4): (0 - 1)^2 + 1 + 4 - 2 * sqrt(1 * 4) = 2
    assert metrics.frechet_distance(0.0, 1.0, 1.0, 4.0) == pytest.approx(2.0, abs=1e-12)


def test_frechet_distance_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(var1) - np.sqrt(var2)) ** 2).sum()
    got = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, abs=1e-12)
    assert metrics.frechet_distance(mu1, np.diag(var1), mu1, np.diag(var1)) == pytest.approx(0.0, abs=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    reference = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-8)


def test_gaussian_stats_feed_frechet_distance():
    features = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 2.0])
    mu, sigma = metrics.gaussian_stats(features)
    assert mu.shape == (2,) and sigma.shape == (2, 2)
    # Against the true law N(0, diag(1, 4)) the distance is small but not zero (sampling noise).
    assert 0 < metrics.frechet_distance(mu, sigma, np.zeros(2), np.diag([1.0, 4.0])) < 0.01


def test_bits_per_dim_of_uniform_model_is_log2_k():
    for K, D in [(256, 784), (2, 10), (33_278, 1)]:
        nll = D * math.log(K)  # uniform over K levels in each of D dimensions
        assert metrics.bits_per_dim(nll, D) == pytest.approx(math.log2(K))
        # The same model as a density on [0, 1]^D (density 1, NLL 0) after dequantization.
        assert metrics.bits_per_dim(0.0, D, levels=K) == pytest.approx(math.log2(K))
    assert metrics.nats_from_bits_per_dim(8.0, 784, levels=256) == pytest.approx(0.0, abs=1e-9)
    nll = torch.tensor([100.0, 200.0])
    assert torch.allclose(metrics.nats_from_bits_per_dim(metrics.bits_per_dim(nll, 784), 784), nll)


def test_perplexity_from_summed_nll():
    V, n = 1000, 5000
    assert metrics.perplexity(n * math.log(V), n) == pytest.approx(V)
    # Summed, not averaged per batch: two batches of different lengths.
    nll_a, n_a, nll_b, n_b = 10.0, 5, 300.0, 100
    assert metrics.perplexity(nll_a + nll_b, n_a + n_b) == pytest.approx(math.exp(310 / 105))
    with pytest.raises(ValueError):
        metrics.perplexity(1.0, 0)


def test_inception_score_extremes():
    K = 10
    balanced_one_hot = np.eye(K)[np.arange(1000) % K]
    assert metrics.inception_score(balanced_one_hot)[0] == pytest.approx(K)
    assert metrics.inception_score(np.full((1000, K), 1 / K))[0] == pytest.approx(1.0)
    mean, std = metrics.inception_score(torch.from_numpy(balanced_one_hot), num_splits=10)
    assert mean == pytest.approx(K) and std == pytest.approx(0.0)
    # All images confidently the same class: IS = 1, however confident.
    assert metrics.inception_score(np.eye(K)[np.zeros(100, dtype=int)])[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        metrics.inception_score(np.ones((5, K)))  # rows do not sum to 1
