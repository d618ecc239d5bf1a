"""The course's CIFAR-10 classifier: the feature network of offline Inception-Score- and FID-style scores.

Published IS and FID use Inception-v3, whose weights cannot be downloaded offline. Offline, the course uses a
small ResNet trained on whatever CIFAR-10 copy :func:`utils.data.load_cifar10` finds (the full training set online,
the real 4,000-image subset offline). It is trained once and cached under ``GM_CACHE/feature_net/``; later calls
load the cached weights. Scores computed with it are *classifier* scores: label them so, and never compare them
with published numbers (the seed course and Berkeley's deepul did the same with their own CIFAR-10 classifier).

Lecture 7 shows how it is trained and what it scores; Lecture 13 and Homework 3 use it.

Usage::

    net = load_feature_network()               # trains on the first call (about a minute on two CPU cores)
    probs = class_probabilities(net, images)   # (N, 3, 32, 32) in [0, 1] -> (N, 10), rows summing to 1
    feats = extract_features(net, images)      # -> (N, FEATURE_DIM), the pooled penultimate activations
    net.info["test_accuracy"]                  # measured on load_cifar10("test") right after training
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .config import cache_dir, get_device, is_smoke
from .data import SubsetWarning, load_cifar10

ARCHITECTURE = "cifar-resnet-v1"  # bump when CifarResNet changes: old cached weights are then ignored
WIDTH = 16  # channels of the first stage; the stages have WIDTH, 2 WIDTH, 4 WIDTH channels
FEATURE_DIM = 4 * WIDTH  # length of the feature vector: the globally pooled output of the last stage
NUM_CLASSES = 10

# Per-channel mean and standard deviation of the CIFAR-10 training images (the usual constants): the network
# standardizes its input itself, so callers pass images in [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class BasicBlock(nn.Module):
    """He et al. (2015)'s basic residual block: conv3x3-BN-ReLU-conv3x3-BN, plus the input (a strided 1x1
    projection when the shape changes), then ReLU. (B, c_in, H, W) -> (B, c_out, H / stride, W / stride)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """A small ResNet for 32x32 RGB images: a conv3x3 stem, three stages of one basic block each (WIDTH,
    2 WIDTH and 4 WIDTH channels at 32x32, 16x16 and 8x8), global average pooling, a linear classifier.

    ``forward``: images (B, 3, 32, 32) in [0, 1] -> logits (B, 10). ``features``: -> (B, FEATURE_DIM).
    """

    def __init__(self, width: int = WIDTH, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.register_buffer("mean", torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CIFAR10_STD).view(1, 3, 1, 1))
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.stages = nn.Sequential(
            BasicBlock(width, width),
            BasicBlock(width, 2 * width, stride=2),
            BasicBlock(2 * width, 4 * width, stride=2),
        )
        self.classifier = nn.Linear(4 * width, num_classes)
        self.info: dict = {}  # filled by load_feature_network: how and on what it was trained

    def features(self, images):
        x = (images - self.mean) / self.std  # (B, 3, 32, 32) standardized
        x = self.stages(self.stem(x))  # (B, 4 width, 8, 8)
        return x.mean(dim=(2, 3))  # (B, 4 width): global average pooling

    def forward(self, images):
        return self.classifier(self.features(images))  # (B, 10) logits


@dataclass(frozen=True)
class TrainRecipe:
    """How the feature network is trained: SGD with Nesterov momentum and a one-cycle learning rate, random
    crops (4 pixels of padding) and horizontal flips, label smoothing."""

    num_epochs: int
    batch_size: int = 128
    max_lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    seed: int = 0


def default_recipe(num_train: int, device: torch.device | None = None) -> TrainRecipe:
    """The recipe for ``num_train`` training images: a budget of images seen, converted into epochs.

    On a CPU the budget is 96,000 images (24 epochs of the offline 4,000-image subset: about a minute on two
    cores, 64% test accuracy on the 1,000 offline test images); on a GPU 750,000 (15 epochs of the full
    training set); in smoke mode 4,096 (4 epochs of 1,024 images, about 27% test accuracy).
    """
    device = device or get_device()
    if is_smoke():
        budget = 4_096
    else:
        budget = 750_000 if device.type == "cuda" else 96_000
    return TrainRecipe(num_epochs=min(100, max(1, round(budget / num_train))))


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crops of the 4-pixel zero-padded images and random horizontal flips, per image: (B, 3, H, W)."""
    batch, _, height, width = images.shape
    padded = F.pad(images, (4, 4, 4, 4))  # (B, 3, H + 8, W + 8)
    dy, dx = torch.randint(0, 9, (2, batch), generator=generator)
    rows = (dy.view(batch, 1) + torch.arange(height)).view(batch, 1, height, 1)  # (B, 1, H, 1)
    cols = (dx.view(batch, 1) + torch.arange(width)).view(batch, 1, 1, width)  # (B, 1, 1, W)
    index = torch.arange(batch).view(batch, 1, 1, 1)
    crops = padded.permute(0, 2, 3, 1)[index, rows, cols].squeeze(1).permute(0, 3, 1, 2)  # (B, 3, H, W)
    flip = torch.rand(batch, generator=generator) < 0.5
    return torch.where(flip.view(batch, 1, 1, 1), crops.flip(3), crops)


def train_classifier(
    train_set: TensorDataset, recipe: TrainRecipe, device: torch.device | None = None, progress: bool = True
) -> CifarResNet:
    """Train a fresh :class:`CifarResNet` on ``train_set`` (images (N, 3, 32, 32) in [0, 1], labels (N,))."""
    from tqdm.auto import tqdm

    device = device or get_device()
    generator = torch.Generator().manual_seed(recipe.seed)
    torch.manual_seed(recipe.seed)  # the initial weights
    model = CifarResNet().to(device)
    images, labels = train_set.tensors
    steps_per_epoch = math.ceil(len(labels) / recipe.batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.max_lr, momentum=recipe.momentum, nesterov=True, weight_decay=recipe.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe.max_lr, total_steps=recipe.num_epochs * steps_per_epoch
    )
    model.train()
    bar = tqdm(range(recipe.num_epochs), desc="training the CIFAR-10 feature network", disable=not progress)
    for _ in bar:
        order = torch.randperm(len(labels), generator=generator)
        for batch in order.split(recipe.batch_size):
            x = augment(images[batch], generator).to(device)
            loss = F.cross_entropy(model(x), labels[batch].to(device), label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval()


@torch.no_grad()
def _batched(model: CifarResNet, images: torch.Tensor, fn, batch_size: int) -> torch.Tensor:
    """``fn(model, batch)`` over ``images`` in batches, in eval mode, results concatenated on the CPU."""
    if images.dim() != 4 or images.shape[1:] != (3, 32, 32):
        raise ValueError(f"images must be (N, 3, 32, 32) in [0, 1], got shape {tuple(images.shape)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([fn(model, x.to(device)).cpu() for x in images.split(batch_size)])
    model.train(was_training)
    return out


def class_probabilities(model: CifarResNet, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """p(y | x) of images (N, 3, 32, 32) in [0, 1] -> (N, 10) float64 rows summing to 1."""
    return _batched(model, images, lambda m, x: F.softmax(m(x).double(), dim=1), batch_size)


def extract_features(model: CifarResNet, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Pooled penultimate activations of images (N, 3, 32, 32) in [0, 1] -> (N, FEATURE_DIM) float32."""
    return _batched(model, images, lambda m, x: m.features(x), batch_size)


def accuracy(model: CifarResNet, dataset: TensorDataset, batch_size: int = 500) -> float:
    """Fraction of ``dataset``'s images whose most probable class is their label."""
    images, labels = dataset.tensors
    predicted = _batched(model, images, lambda m, x: m(x).argmax(dim=1), batch_size)
    return (predicted == labels).double().mean().item()


def _fingerprint(dataset: TensorDataset) -> str:
    """SHA-256 of a dataset's shapes, labels, first pixel row of every image and 1,000 whole images spread over it:
    the cache key changes when the training data does, and computing it takes milliseconds even for 50,000
    images (hashing every pixel of the full training set would take most of a second on each load)."""
    images, labels = dataset.tensors
    sample = torch.linspace(0, len(images) - 1, min(len(images), 1_000)).long()
    digest = hashlib.sha256(str((tuple(images.shape), images.dtype, tuple(labels.shape))).encode())
    for part in (labels, images[:, :, 0, :], images[sample]):
        digest.update(part.contiguous().numpy().tobytes())
    return digest.hexdigest()


def cache_path(train_set: TensorDataset, recipe: TrainRecipe) -> Path:
    """Where the weights trained on ``train_set`` with ``recipe`` are cached."""
    key = json.dumps({"architecture": ARCHITECTURE, "recipe": asdict(recipe), "data": _fingerprint(train_set)})
    return cache_dir("feature_net") / f"{ARCHITECTURE}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def _save_atomically(payload: dict, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: a reader never sees a partial file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(payload, temporary)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _load_cached(path: Path) -> tuple[dict, dict] | None:
    """(state_dict, info) of a cached network, or None when the file is missing or unreadable (with a warning)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return payload["state_dict"], payload["info"]
    except Exception as err:  # noqa: BLE001 - any unreadable cache file is retrained, never used
        warnings.warn(f"{path} is unreadable ({type(err).__name__}: {err}); training the network again", stacklevel=3)
        return None


def _describe_data(given: bool, caught: list) -> str:
    if given:
        return "the caller's training set"
    if any(issubclass(warning.category, SubsetWarning) for warning in caught):
        return "the offline CIFAR-10 subset (not the full training set)"
    return "CIFAR-10"


def load_feature_network(
    device: torch.device | None = None,
    train_set: TensorDataset | None = None,
    test_set: TensorDataset | None = None,
    recipe: TrainRecipe | None = None,
    progress: bool = True,
) -> CifarResNet:
    """The course's CIFAR-10 classifier, in eval mode with frozen weights: trained on the first call, loaded
    from the cache afterwards.

    Args:
        device: where the returned network lives (default: :func:`utils.config.get_device`).
        train_set, test_set: default ``load_cifar10("train")`` and ``load_cifar10("test")`` (smoke mode: their
            first 1,024 images). The cache key covers the training data, the recipe and the architecture.
        recipe: default :func:`default_recipe` for the training set's size and the device.

    Returns:
        The network; ``net.info`` says how it was made: ``test_accuracy`` (on the test set of the call that
        trained it, measured right after training), ``num_train``, ``num_test``, ``data`` (which copy of
        CIFAR-10), ``train_seconds``, ``recipe``, ``cache_file`` and ``trained_now`` (False when the weights came
        from the cache).
    """
    device = device or get_device()
    given = train_set is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_set = train_set if train_set is not None else load_cifar10("train")
        test_set = test_set if test_set is not None else load_cifar10("test")
    for warning in caught:  # pass the loader's warnings on (the offline subset's SubsetWarning)
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    recipe = recipe or default_recipe(len(train_set), device)
    path = cache_path(train_set, recipe)

    cached = _load_cached(path)
    if cached is None:
        start = time.perf_counter()
        model = train_classifier(train_set, recipe, device, progress)
        info = {
            "test_accuracy": accuracy(model, test_set),
            "num_train": len(train_set),
            "num_test": len(test_set),
            "data": _describe_data(given, caught),
            "train_seconds": time.perf_counter() - start,
            "recipe": asdict(recipe),
        }
        _save_atomically({"state_dict": model.state_dict(), "info": info}, path)
        trained_now = True
    else:
        state_dict, info = cached
        model = CifarResNet()
        model.load_state_dict(state_dict)
        trained_now = False
    model = model.to(device).eval().requires_grad_(False)
    model.info = {**info, "cache_file": str(path), "trained_now": trained_now}
    return model
