import math

import pytest
import torch

from utils import metrics


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
