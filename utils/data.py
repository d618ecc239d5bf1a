"""Dataset loaders for the course: MNIST, CIFAR-10 and WikiText-2 (word level).

Each loader looks, in order, for a verified local copy under ``GM_DATA`` (the offline copies, laid out as
in ``shared/data``) or ``GM_CACHE``, then downloads with the real library (torchvision, Hugging Face
``datasets``) when ``download=True`` and the network is there. Files are verified by checksum before use;
a corrupt or partial file raises :class:`ChecksumError`, a dataset that cannot be found or fetched raises
:class:`DatasetUnavailableError` naming the paths tried and what to do.

In smoke mode (``GM_SMOKE=1``) every loader returns the first ``SMOKE_SIZES[...]`` items of a split.
"""

from __future__ import annotations

import hashlib
import socket
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from .config import cache_dir, data_root, is_smoke

# Items kept per split in smoke mode (images for MNIST/CIFAR-10, tokens for WikiText-2).
SMOKE_SIZES = {"mnist": 2048, "cifar10": 1024, "wikitext2": 20_000}

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# SHA-256 of the files this module reads directly (the MNIST .gz files are checked against the MD5s that
# torchvision ships in ``torchvision.datasets.MNIST.resources``).
SHA256 = {
    "wikitext-2/train.txt": "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
    "wikitext-2/valid.txt": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    "wikitext-2/test.txt": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
    "cifar10/cifar10_subset.npz": "9022e0285be6bfc8659e0ca465cfaefa03b89b41ff5b04715be3834db1dce410",
}

HOW_TO_GET_DATA = (
    "Run with network access (Colab, a laptop) so the loader can download it, or point GM_DATA at a folder "
    "holding the offline copies (layout: mnist/MNIST/raw/*.gz, cifar10/, wikitext-2/*.txt)."
)


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither present locally nor downloadable."""


class ChecksumError(RuntimeError):
    """A dataset file exists but its checksum is wrong: corrupt or partially downloaded."""


class SubsetWarning(UserWarning):
    """A loader returns a subset of the real split (the offline CIFAR-10 copy)."""


# --------------------------------------------------------------------------------------------------
# Files and checksums
# --------------------------------------------------------------------------------------------------
def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected: str, algorithm: str = "sha256") -> Path:
    """Return ``path`` if its digest is ``expected``; raise :class:`ChecksumError` otherwise."""
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise ChecksumError(
            f"{path}: {algorithm} is {actual}, expected {expected}. The file is corrupt or partial: "
            "delete it (or restore the offline copy) and load again."
        )
    return path


def _search_roots() -> list[Path]:
    """Folders that may hold datasets: the data root, then the writable cache (deduplicated)."""
    roots = [data_root(), cache_dir("").resolve()]
    return list(dict.fromkeys(roots))


def _find_verified(relative: str) -> tuple[Path | None, list[Path]]:
    """The first copy of ``relative`` under the search roots (verified against ``SHA256``), and every
    path looked at."""
    tried = [root / relative for root in _search_roots()]
    for path in tried:
        if path.is_file():
            return verify_file(path, SHA256[relative]), tried
    return None, tried


def _check_split(split: str, allowed: Sequence[str]) -> str:
    if split not in allowed:
        raise ValueError(f"split must be one of {tuple(allowed)}, got {split!r}")
    return split


def _smoke_limit(limit: int | None, dataset: str) -> int | None:
    """An explicit ``limit`` wins; otherwise the smoke size in smoke mode, else everything."""
    if limit is not None:
        return limit
    return SMOKE_SIZES[dataset] if is_smoke() else None


def _unavailable(name: str, tried: Iterable[Path], reason: str = "") -> DatasetUnavailableError:
    paths = "\n  ".join(str(p) for p in tried)
    extra = f"\n{reason}" if reason else ""
    return DatasetUnavailableError(f"{name} is not available. Looked in:\n  {paths}{extra}\n{HOW_TO_GET_DATA}")


# --------------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------------
class DynamicallyBinarizedMNIST(Dataset):
    """MNIST whose pixels are resampled as Bernoulli(intensity) at every access (dynamic binarization).

    ``probs``: (N, 1, 28, 28) float32 intensities in [0, 1]; ``labels``: (N,) int64.
    """

    def __init__(self, probs: torch.Tensor, labels: torch.Tensor):
        self.probs, self.labels = probs, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        return torch.bernoulli(self.probs[index]), self.labels[index]


def _stage_mnist_offline_copy() -> Path:
    """Return a writable torchvision root for MNIST; link verified offline .gz files into it, so that
    torchvision finds them (it checks their MD5 again) and only extracts instead of downloading."""
    from torchvision.datasets import MNIST

    root = cache_dir("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for filename, md5 in MNIST.resources:
        filename = Path(filename).name
        staged = raw / filename
        for source_root in _search_roots():
            source = source_root / "mnist" / "MNIST" / "raw" / filename
            if source.is_file():
                verify_file(source, md5, "md5")
                if source.resolve() != staged.resolve():
                    staged.unlink(missing_ok=True)
                    staged.symlink_to(source.resolve())
                break
    return root


def load_mnist(
    split: str = "train",
    binarize: str | None = None,
    limit: int | None = None,
    download: bool = True,
) -> Dataset:
    """MNIST digits as tensors.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        binarize: ``None`` for grey levels in [0, 1]; ``"static"`` for one Bernoulli sample per pixel drawn
            once with a fixed seed (the same every call); ``"dynamic"`` for a fresh sample at every access;
            ``"threshold"`` for ``x > 0.5``.
        limit: keep the first ``limit`` images (default: all, or ``SMOKE_SIZES["mnist"]`` in smoke mode).
        download: allow torchvision to download when no local copy is found.

    Returns:
        A dataset of ``(image, label)`` pairs, image (1, 28, 28) float32, label int64. Except for
        ``"dynamic"``, it is a ``TensorDataset``: ``ds.tensors`` are (N, 1, 28, 28) and (N,).
    """
    from torchvision.datasets import MNIST

    _check_split(split, ("train", "test"))
    if binarize not in (None, "static", "dynamic", "threshold"):
        raise ValueError(f"binarize must be None, 'static', 'dynamic' or 'threshold', got {binarize!r}")
    root = _stage_mnist_offline_copy()
    try:
        mnist = MNIST(str(root), train=split == "train", download=download)
    except RuntimeError as err:  # torchvision raises RuntimeError for "not found" and failed downloads
        tried = [r / "mnist" / "MNIST" / "raw" for r in _search_roots()]
        raise _unavailable(f"MNIST ({split})", tried, f"torchvision said: {err}") from err

    n = _smoke_limit(limit, "mnist")
    images = mnist.data[:n].unsqueeze(1).float() / 255.0  # (N, 1, 28, 28) in [0, 1]
    labels = mnist.targets[:n].long()  # (N,)
    if binarize == "dynamic":
        return DynamicallyBinarizedMNIST(images, labels)
    if binarize == "static":
        generator = torch.Generator().manual_seed(0 if split == "train" else 1)
        images = torch.bernoulli(images, generator=generator)
    elif binarize == "threshold":
        images = (images > 0.5).float()
    return TensorDataset(images, labels)


# --------------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------------
def load_cifar10(split: str = "train", limit: int | None = None, download: bool = True) -> TensorDataset:
    """CIFAR-10 images as a ``TensorDataset``: images (N, 3, 32, 32) float32 in [0, 1], labels (N,) int64.

    Order of sources: a full torchvision copy (MD5-checked by torchvision) under ``GM_DATA/cifar10`` or the
    cache; the offline subset ``cifar10/cifar10_subset.npz`` (4,000 train / 1,000 test images, the first
    ones of the official order; a :class:`SubsetWarning` says so); a torchvision download (``download=True``).
    Class names: ``CIFAR10_CLASSES``.
    """
    from torchvision.datasets import CIFAR10

    _check_split(split, ("train", "test"))
    train = split == "train"
    n = _smoke_limit(limit, "cifar10")
    full_roots = [root / "cifar10" for root in _search_roots()]

    def from_torchvision(dataset: CIFAR10) -> TensorDataset:
        images = torch.from_numpy(dataset.data[:n]).permute(0, 3, 1, 2).float() / 255.0  # NHWC -> NCHW
        labels = torch.tensor(dataset.targets[:n], dtype=torch.long)
        return TensorDataset(images.contiguous(), labels)

    for root in full_roots:
        if (root / "cifar-10-batches-py").is_dir():
            try:
                return from_torchvision(CIFAR10(str(root), train=train, download=False))
            except RuntimeError:
                pass  # corrupt or partial: torchvision's MD5 check failed; try the next source

    subset, tried = _find_verified("cifar10/cifar10_subset.npz")
    if subset is not None:
        with np.load(subset) as arrays:
            x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        warnings.warn(
            f"CIFAR-10 {split}: using the offline subset {subset} ({len(y):,} images, the first of the official "
            f"{split} split), not the full {'50,000' if train else '10,000'}. Figures computed on it are not "
            "comparable with published ones.",
            SubsetWarning,
            stacklevel=2,
        )
        images = torch.from_numpy(x[:n]).permute(0, 3, 1, 2).float() / 255.0
        return TensorDataset(images.contiguous(), torch.from_numpy(y[:n]).long())

    if download:
        try:
            return from_torchvision(CIFAR10(str(cache_dir("cifar10")), train=train, download=True))
        except Exception as err:  # noqa: BLE001 - any download failure becomes one clear error
            raise _unavailable(f"CIFAR-10 ({split})", full_roots + tried, f"Download failed: {err}") from err
    raise _unavailable(f"CIFAR-10 ({split})", full_roots + tried, "download=False, so nothing was downloaded.")


# --------------------------------------------------------------------------------------------------
# WikiText-2 (word level) and language-model batches
# --------------------------------------------------------------------------------------------------
WIKITEXT2_HF = ("Salesforce/wikitext", "wikitext-2-v1")  # the tokenized v1 files, with <unk>


def _host_resolves(host: str) -> bool:
    """True if DNS resolves ``host``: a cheap test for network access before a slow download attempt."""
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def tokenize_lines(lines: Iterable[str]) -> list[str]:
    """Whitespace tokens of every line, each line followed by ``<eos>`` (as in PyTorch's word LM example)."""
    tokens: list[str] = []
    for line in lines:
        tokens.extend(line.split())
        tokens.append("<eos>")
    return tokens


def load_wikitext2(split: str = "train", limit: int | None = None, download: bool = True) -> list[str]:
    """WikiText-2 (v1, word level) as a list of tokens, ``<eos>`` closing every line.

    Sizes: valid 217,646 tokens, test 245,569 (train about 2.09 M). The offline copies hold only ``valid``
    and ``test``; offline, train on ``valid`` and evaluate on ``test``. Online, the split is read with
    Hugging Face ``datasets`` (``Salesforce/wikitext``, ``wikitext-2-v1``).

    Args:
        split: ``"train"``, ``"valid"`` or ``"test"``.
        limit: keep the first ``limit`` tokens (default: all, or ``SMOKE_SIZES["wikitext2"]`` in smoke mode).
        download: allow a download from the Hugging Face Hub when no local copy is found.
    """
    _check_split(split, ("train", "valid", "test"))
    n = _smoke_limit(limit, "wikitext2")
    path, tried = _find_verified(f"wikitext-2/{split}.txt")
    if path is not None:
        with open(path, encoding="utf-8") as f:
            return tokenize_lines(f)[:n]

    offline_note = (
        "The offline copies hold only 'valid' and 'test' (train is about 10.8 MB and has no offline copy): "
        "offline, train on 'valid' and evaluate on 'test'."
        if split == "train"
        else ""
    )
    if not download:
        raise _unavailable(f"WikiText-2 ({split})", tried, f"download=False. {offline_note}")
    from huggingface_hub.constants import ENDPOINT  # honours HF_ENDPOINT (mirrors)

    hub_host = urlparse(ENDPOINT).hostname or ENDPOINT
    if not _host_resolves(hub_host):  # fail fast offline: the Hub client would retry for ~25 s
        raise _unavailable(f"WikiText-2 ({split})", tried, f"No network: {hub_host} does not resolve. {offline_note}")
    try:
        from datasets import load_dataset

        hf_split = {"valid": "validation"}.get(split, split)
        rows = load_dataset(*WIKITEXT2_HF, split=hf_split, cache_dir=str(cache_dir("huggingface")))
        return tokenize_lines(rows["text"])[:n]
    except Exception as err:  # noqa: BLE001 - any hub/network failure becomes one clear error
        raise _unavailable(
            f"WikiText-2 ({split})", tried, f"Hugging Face download failed: {err}\n{offline_note}"
        ) from err


class Vocab:
    """Token <-> id mapping. Special tokens first, then tokens by decreasing count (ties: first seen).

    Unknown tokens map to ``<unk>``. ``len(vocab)`` is the vocabulary size V; an untrained language model
    that predicts uniformly has loss ``ln V`` nats per token.
    """

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = ("<eos>", "<unk>")):
        counts = Counter(tokens)
        ordered = sorted(counts, key=lambda tok: -counts[tok])  # sorted() is stable: ties keep first-seen order
        self.itos: list[str] = list(specials) + [tok for tok in ordered if tok not in specials]
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(self.itos)}
        self.counts = counts
        self.unk_id = self.stoi["<unk>"]
        self.eos_id = self.stoi["<eos>"]

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> torch.Tensor:
        """(N,) int64 ids; unknown tokens become ``<unk>``."""
        return torch.tensor([self.stoi.get(tok, self.unk_id) for tok in tokens], dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Tokens of a sequence of ids."""
        return [self.itos[int(i)] for i in ids]


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a token stream (N,) into ``batch_size`` contiguous streams: (batch_size, N // batch_size).

    Row b holds tokens ``[b * L, (b + 1) * L)`` with ``L = N // batch_size``; the last ``N % batch_size``
    tokens are dropped.
    """
    length = ids.numel() // batch_size
    if length < 2:
        raise ValueError(f"{ids.numel()} tokens are too few for {batch_size} streams")
    return ids[: batch_size * length].view(batch_size, length)


def lm_batches(streams: torch.Tensor, seq_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Walk (B, L) streams in windows: yields inputs ``x`` (B, T) and next-token targets ``y`` (B, T),
    ``y[:, t] == x[:, t + 1]``, T = ``seq_len`` except for a shorter last window.

    Every token but the first of each stream is a target exactly once: B * (L - 1) targets in total, which
    is the count to divide the summed NLL by for a perplexity.
    """
    length = streams.size(1)
    for start in range(0, length - 1, seq_len):
        end = min(start + seq_len, length - 1)
        yield streams[:, start:end], streams[:, start + 1 : end + 1]
