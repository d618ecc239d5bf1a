"""Loader tests against the real offline copies (GM_DATA); they skip, saying why, when a copy is absent."""

import shutil

import pytest
import torch

from tests.conftest import require_offline_copy
from utils import data
from utils.config import data_root

MNIST_RAW = "mnist/MNIST/raw"


@pytest.fixture
def private_cache(monkeypatch, tmp_path):
    """Each test writes extractions into its own cache, never into GM_DATA."""
    monkeypatch.setenv("GM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def copied_data_root(monkeypatch, tmp_path):
    """A writable copy of part of the offline data, used as GM_DATA; returns a function that copies files in."""
    real_root, root = data_root(), tmp_path / "data"
    monkeypatch.setenv("GM_DATA", str(root))

    def copy(relative):
        source = require_offline_copy(relative, real_root)
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return target

    return copy


# ------------------------------------------------------------------ MNIST
def test_mnist_full_splits(full_size, private_cache):
    require_offline_copy(MNIST_RAW)
    train, test = data.load_mnist("train"), data.load_mnist("test")
    images, labels = train.tensors
    assert images.shape == (60_000, 1, 28, 28) and labels.shape == (60_000,)
    assert test.tensors[0].shape == (10_000, 1, 28, 28)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() == 1
    assert torch.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert not any(private_cache.rglob("*.gz")) or all(p.is_symlink() for p in private_cache.rglob("*.gz"))


def test_mnist_smoke_subset_and_binarizations(private_cache):
    require_offline_copy(MNIST_RAW)
    grey = data.load_mnist("test")  # the session runs in smoke mode
    assert len(grey) == data.SMOKE_SIZES["mnist"]
    static = data.load_mnist("test", binarize="static").tensors[0]
    assert set(static.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(static, data.load_mnist("test", binarize="static").tensors[0])  # fixed once
    # A static sample is a Bernoulli draw of the grey levels: its mean matches theirs.
    assert abs(static.mean().item() - grey.tensors[0].mean().item()) < 0.005
    dynamic = data.load_mnist("test", binarize="dynamic", limit=16)
    first, second = dynamic[0][0], dynamic[0][0]
    assert set(first.unique().tolist()) <= {0.0, 1.0} and not torch.equal(first, second)  # resampled
    threshold = data.load_mnist("test", binarize="threshold", limit=16).tensors[0]
    assert torch.equal(threshold, (grey.tensors[0][:16] > 0.5).float())
    with pytest.raises(ValueError):
        data.load_mnist("test", binarize="sometimes")
    with pytest.raises(ValueError):
        data.load_mnist("validation")


def test_mnist_corrupt_file_is_rejected(copied_data_root, private_cache):
    for name in (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ):
        copied = copied_data_root(f"{MNIST_RAW}/{name}")
    with open(copied, "r+b") as f:  # flip one byte of t10k-labels
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_mnist("test", download=False)


def test_missing_dataset_gives_a_clear_error(monkeypatch, tmp_path, private_cache):
    monkeypatch.setenv("GM_DATA", str(tmp_path / "empty"))
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_mnist("train", download=False)
    message = str(err.value)
    assert "MNIST" in message and str(tmp_path / "empty") in message and "GM_DATA" in message
    with pytest.raises(data.DatasetUnavailableError, match="CIFAR-10"):
        data.load_cifar10("train", download=False)
    with pytest.raises(data.DatasetUnavailableError, match=r"WikiText-2 \(test\)"):
        data.load_wikitext2("test", download=False)


# ------------------------------------------------------------------ CIFAR-10
def test_cifar10_offline_subset_warns(full_size, private_cache):
    require_offline_copy("cifar10/cifar10_subset.npz")
    with pytest.warns(data.SubsetWarning, match="4,000 images"):
        train = data.load_cifar10("train")
    with pytest.warns(data.SubsetWarning, match="1,000 images"):
        test = data.load_cifar10("test")
    images, labels = train.tensors
    assert images.shape == (4000, 3, 32, 32) and test.tensors[0].shape == (1000, 3, 32, 32)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    # First pixels and labels as in the official cifar-10-batches-py files (shared/data/README.md).
    assert (images[0].flatten()[:3] * 255).round().tolist() == [59, 43, 50]
    assert labels[:5].tolist() == [6, 9, 9, 4, 1] and test.tensors[1][:5].tolist() == [3, 8, 8, 0, 6]


def test_cifar10_corrupt_subset_is_rejected(copied_data_root, private_cache):
    path = copied_data_root("cifar10/cifar10_subset.npz")
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(data.ChecksumError, match="cifar10_subset.npz"):
        data.load_cifar10("train", download=False)


# ------------------------------------------------------------------ WikiText-2
def test_wikitext2_token_counts_and_vocabulary(full_size):
    require_offline_copy("wikitext-2/valid.txt")
    require_offline_copy("wikitext-2/test.txt")
    valid, test = data.load_wikitext2("valid"), data.load_wikitext2("test")
    assert len(valid) == 217_646 and len(test) == 245_569
    assert valid.count("<eos>") == 3_760 and test.count("<eos>") == 4_358  # one per line
    vocab = data.Vocab(valid + test)
    assert len(vocab) == 18_328
    ids = vocab.encode(test[:50])
    assert ids.dtype == torch.long and vocab.decode(ids) == test[:50]
    assert vocab.decode(vocab.encode(["a-word-never-seen"])) == ["<unk>"]


def test_wikitext2_smoke_subset():
    require_offline_copy("wikitext-2/valid.txt")
    assert len(data.load_wikitext2("valid")) == data.SMOKE_SIZES["wikitext2"]


def test_wikitext2_train_offline_says_what_to_do(monkeypatch):
    require_offline_copy("wikitext-2/valid.txt")
    if (data.data_root() / "wikitext-2/train.txt").exists():
        pytest.skip("a train.txt copy is present")
    monkeypatch.setattr(data, "_host_resolves", lambda host: False)  # as on a machine without network
    with pytest.raises(data.DatasetUnavailableError, match="train on 'valid' and evaluate on 'test'"):
        data.load_wikitext2("train")


def test_wikitext2_benchmark_vocabulary_with_train(full_size):
    try:
        train = data.load_wikitext2("train")
    except data.DatasetUnavailableError as err:
        pytest.skip(f"WikiText-2 train is neither offline nor downloadable here: {str(err).splitlines()[0]}")
    assert len(data.Vocab(train)) == 33_278


def test_wikitext2_corrupt_file_is_rejected(copied_data_root, private_cache):
    path = copied_data_root("wikitext-2/test.txt")
    path.write_text(path.read_text()[:-1000])  # a partial file
    with pytest.raises(data.ChecksumError, match="test.txt"):
        data.load_wikitext2("test", download=False)


def test_vocab_orders_specials_then_by_count():
    vocab = data.Vocab("b a c a b a <unk>".split())
    assert vocab.itos == ["<eos>", "<unk>", "a", "b", "c"]
    assert vocab.eos_id == 0 and vocab.unk_id == 1 and len(vocab) == 5


def test_batchify_and_lm_batches_cover_every_target_once():
    stream = torch.arange(103)
    streams = data.batchify(stream, batch_size=4)  # (4, 25): the last 3 tokens are dropped
    assert streams.shape == (4, 25) and streams[1, 0] == 25
    pairs = list(data.lm_batches(streams, seq_len=10))
    assert [x.shape[1] for x, _ in pairs] == [10, 10, 4]
    for x, y in pairs:
        assert torch.equal(y, x + 1)  # next token, since the stream counts up
    targets = torch.cat([y for _, y in pairs], dim=1)
    assert targets.numel() == 4 * (25 - 1)
    assert torch.equal(targets, streams[:, 1:])
    with pytest.raises(ValueError):
        data.batchify(torch.arange(5), batch_size=4)
