"""Evaluation metrics used across the course, with their units.

- Likelihoods: nats (natural log) <-> bits per dimension; perplexity of a language model.
- Sample quality: Fréchet distance between Gaussians (the math of FID) and the Inception Score formula,
  both computed from features / class probabilities that the caller supplies.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import rel_entr


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


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) of features (N, d), in float64."""
    x = np.asarray(features.detach().cpu() if torch.is_tensor(features) else features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be (N >= 2, d), got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by ``eigh`` (negative round-off clipped)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2):

    ``||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1^{1/2} S2 S1^{1/2})^{1/2})``.

    The symmetric form keeps every matrix symmetric PSD, so ``eigh`` applies and the result is real (the
    usual ``sqrtm(S1 S2)`` of a non-symmetric product can return complex round-off). FID is this
    distance between Inception-feature statistics of real and generated images.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    root1 = _psd_sqrt(sigma1)
    cross = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_cross = np.sqrt(np.clip(cross, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_cross)


def inception_score(probs, num_splits: int = 1) -> tuple[float, float]:
    """Inception Score from class probabilities p(y|x) of generated images, (N, K) rows summing to 1:

    ``IS = exp( E_x KL(p(y|x) || p(y)) )`` with ``p(y)`` the mean of the rows. Ranges from 1 (every image
    gets the same prediction) to K (confident and balanced predictions). Returns the mean and standard
    deviation over ``num_splits`` equal chunks (the original recipe uses 10 splits of 5,000 samples).
    """
    p = np.asarray(probs.detach().cpu() if torch.is_tensor(probs) else probs, dtype=np.float64)
    if p.ndim != 2 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6) or (p < 0).any():
        raise ValueError("probs must be (N, K) with non-negative rows summing to 1")
    scores = []
    for chunk in np.array_split(p, num_splits):
        marginal = chunk.mean(axis=0, keepdims=True)
        kl = rel_entr(chunk, marginal).sum(axis=1)  # KL(p(y|x) || p(y)) per image; rel_entr has 0 log 0 = 0
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
