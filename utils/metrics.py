"""Likelihood metrics used across the course, with their units: nats (natural log) <-> bits per dimension, and the
perplexity of a language model.

Sample-quality scores (Inception Score, FID) are not here: Homework 3 asks students to write them, and the lectures
compute them with torchmetrics (``FrechetInceptionDistance``, ``InceptionScore``) and POT
(``ot.gaussian.bures_wasserstein_distance``).
"""

from __future__ import annotations

import math


def bits_per_dim(nll_nats, num_dims: int, levels: int | None = None):
    """Negative log-likelihood of one example in nats -> bits per dimension.

    ``bits/dim = NLL / (D ln 2)``. With ``levels`` (e.g. 256 for 8-bit images) ``nll_nats`` is taken to be
    a *density* NLL of data scaled to [0, 1]^D after uniform dequantization, and ``D ln levels`` is added
    back: a density on cells of volume ``levels**-D`` gives the discrete data the probability
    ``p(x) levels**-D``, so ``NLL_discrete = NLL_density + D ln levels``.

    Works on floats, NumPy arrays and tensors alike.
    """
    if levels is not None:
        nll_nats = nll_nats + num_dims * math.log(levels)
    return nll_nats / (num_dims * math.log(2))


def nats_from_bits_per_dim(bpd, num_dims: int, levels: int | None = None):
    """Inverse of :func:`bits_per_dim`: bits/dim -> NLL in nats (a density NLL on [0, 1]^D if ``levels``)."""
    nll_nats = bpd * num_dims * math.log(2)
    if levels is not None:
        nll_nats = nll_nats - num_dims * math.log(levels)
    return nll_nats


def perplexity(total_nll_nats: float, num_tokens: int) -> float:
    """``exp(total NLL / number of predicted tokens)``: from the *summed* NLL over a whole stream, never an
    average of per-batch perplexities (which over-weights short batches and is biased up by Jensen)."""
    if num_tokens <= 0:
        raise ValueError("num_tokens must be positive")
    return math.exp(float(total_nll_nats) / num_tokens)
