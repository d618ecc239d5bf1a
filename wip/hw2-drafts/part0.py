# %% [markdown] id=title
# # Homework 2 — Variational autoencoders, PixelCNN and normalizing flows on MNIST
#
# Seven parts, 100 points, all on MNIST: the three families of likelihood-based image models of Lectures 6–9, each
# built from its core piece, checked right away, trained, and measured in **nats per image** or **bits per
# dimension**, the units in which the papers report them.
#
# | part | topic | points |
# |---|---|---|
# | 1 | a residual convolutional block, the building block of every network below | 6 |
# | 2 | a Gaussian VAE on dequantized grey-level MNIST: a full-covariance posterior, closed-form and Monte Carlo KL, bits/dim | 18 |
# | 3 | a Bernoulli VAE on binarized MNIST: importance-sampled negative log-likelihood, k up to 1000 | 14 |
# | 4 | PixelCNN: masks A and B, masked residual blocks, causality through gradients, exact NLL, sampling | 26 |
# | 5 | an inverse autoregressive flow in the VAE encoder, checked against a brute-force log-determinant | 12 |
# | 6 | PixelVAE: a PixelCNN decoder, posterior collapse, and a remedy | 8 |
# | 7 | a RealNVP-style coupling flow on dequantized MNIST: masks, the logit transform, exact bits/dim | 16 |
#
# **How this homework works.** Write your code where it says `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()`). Run the self-check after each answer. Cells marked *graded* carry the points: the
# autograder reruns them from its own copy with hidden tests on other inputs (other sizes, other weights, small
# fixture models of its own) and compares your results with the reference solution's, so solve the task, not the
# visible checks. Only the code inside answer cells is graded: keep helpers there. Do not edit the given parts of
# answer cells (signatures, `__init__` methods): the hidden tests rely on them. Each answer is tested on its own
# inputs, so a mistake in one part costs points in that part only; the training results (one small graded cell per
# model) depend on your answers by design.
#
# **Sizes.** `GM_SMOKE=1` runs everything in seconds on tiny subsets (what the autograder does); the default on a
# laptop CPU trains each model for a few minutes on the full 60,000 training images; on a GPU (Colab) the same code
# trains the full-scale configurations. Every model's numbers are printed at the end beside the reference
# solution's (README, "Reference results").

# %% id=config
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from utils import get_device, is_smoke, seed_everything
from utils.data import load_mnist
from utils.graded import report  # used by the autograder's hidden tests
from utils.metrics import bits_per_dim
from utils.plot import plot_curves, show_images

SMOKE = is_smoke()
device = get_device()
SCALE = "smoke" if SMOKE else ("gpu" if device.type == "cuda" else "cpu")  # three sizes of the same code


def sized(smoke, cpu, gpu):
    # The value for this run's scale: smoke (seconds, tiny subsets), cpu (minutes per model), gpu (full scale).
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[SCALE]


generator = seed_everything(0)
D = 28 * 28  # dimensions of an MNIST image
results = {}  # each part's headline numbers, printed together at the end
print(f"scale: {SCALE}, device: {device}")

# %% [markdown] id=data-intro
# ## The data
#
# MNIST's pixels are grey levels $k \in \{0, \dots, 255\}$ (`load_mnist` scales them to $k/255$). Two of its
# standard forms are used below, each with a density or a probability mass that papers report:
# - **dequantized** (Parts 2 and 7): $x = (k + u)/256$ with $u \sim \mathrm U[0, 1)^D$ drawn afresh every time an
#   image is used, so that a *density* $p$ on $[0, 1)^D$ makes sense; $-\log p(x) + D \ln 256$ nats, in bits per
#   dimension, bounds the NLL of the discrete image (Theis et al., 2016): `bits_per_dim(nll, D, levels=256)`.
#   The uniform density scores exactly 8 bits/dim.
# - **binarized** (Parts 3, 4 and 6): each pixel is 1 with probability $k/255$. Training images are binarized
#   *dynamically* (a fresh draw every time an image is used: more data, a regularizer, and the protocol of Burda et
#   al. and of most VAE papers); the test images *statically* (one fixed draw, `load_mnist("test",
#   binarize="static")`), so that every model below is scored on the same binary images.

# %% id=data
num_train = sized(smoke=1024, cpu=60_000, gpu=60_000)
num_test = sized(smoke=256, cpu=2_000, gpu=10_000)  # test images scored by each model
grey_train = load_mnist("train", limit=num_train).tensors[0]  # (N, 1, 28, 28) grey levels k / 255
grey_test = load_mnist("test", limit=num_test).tensors[0]
pixels_test = torch.round(grey_test * 255)  # the integers k
x_test_dequantized = (pixels_test + torch.rand(pixels_test.shape, generator=generator)) / 256  # one fixed draw
x_test_binary = load_mnist("test", binarize="static", limit=num_test).tensors[0]
assert torch.allclose(torch.round(grey_train * 255), grey_train * 255, atol=1e-3), "not 8-bit grey levels"
print(f"{len(grey_train):,} training and {len(grey_test):,} test images")


def minibatches(images, batch_size, form, generator):
    # An endless stream of training minibatches (B, 1, 28, 28), reshuffled every epoch, in the given form:
    # "dequantized" (a fresh u every time) or "binarized" (a fresh Bernoulli draw every time).
    while True:
        for index in torch.randperm(len(images), generator=generator).split(batch_size):
            batch = images[index]
            if form == "dequantized":
                yield (torch.round(batch * 255) + torch.rand(batch.shape, generator=generator)) / 256
            else:
                yield torch.bernoulli(batch, generator=generator)


def train(model, loss_fn, batches, num_steps, lr, max_seconds, desc):
    # Adam on loss_fn(model, batch) (a scalar to minimize) for num_steps steps or max_seconds, whichever comes
    # first; returns the loss of every step. Gradients are clipped: early VAE steps can be large.
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses, start = [], time.time()
    for _ in tqdm(range(num_steps), desc=desc):
        loss = loss_fn(model, next(batches).to(device))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=100.0)
        optimizer.step()
        losses.append(loss.item())
        if time.time() - start > max_seconds:
            print(f"{desc}: stopped after {len(losses)} steps ({max_seconds / 60:.1f} min budget)")
            break
    model.eval()
    return losses


@torch.no_grad()
def per_image(fn, x, batch_size=500):
    # fn(batch) -> (B,) for every image of x, in batches, on the CPU: (N,) float64.
    return torch.cat([fn(batch.to(device)).double().cpu() for batch in x.split(batch_size)])


def mean_and_error(values):
    # The mean of per-image values and its standard error.
    return values.mean().item(), values.std().item() / math.sqrt(len(values))
