"""The course's CIFAR-10 feature network: shapes, augmentation, training, and the train-once cache."""

import warnings

import pytest
import torch
from torch.utils.data import TensorDataset

from utils import feature_net
from utils.feature_net import (
    FEATURE_DIM,
    CifarResNet,
    TrainRecipe,
    accuracy,
    augment,
    class_probabilities,
    extract_features,
    load_feature_network,
)

RECIPE = TrainRecipe(num_epochs=3, batch_size=64, max_lr=0.05)
CPU = torch.device("cpu")


def easy_cifar_like(num_images: int, seed: int) -> TensorDataset:
    """Ten classes of 32x32 RGB images, each a colour of its class plus pixel noise: learnable in seconds, also
    through the random crops and flips of training."""
    patterns = torch.rand(10, 3, 1, 1, generator=torch.Generator().manual_seed(123))  # the same for every split
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (num_images,), generator=generator)
    noise = torch.rand(num_images, 3, 32, 32, generator=generator)
    return TensorDataset((0.6 * patterns[labels] + 0.4 * noise).clamp(0, 1), labels)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GM_CACHE", str(tmp_path))
    return tmp_path


def test_shapes_of_logits_features_and_probabilities():
    model = CifarResNet().eval()
    images = torch.rand(5, 3, 32, 32)
    assert model(images).shape == (5, 10)
    assert model.features(images).shape == (5, FEATURE_DIM)
    probs = class_probabilities(model, images, batch_size=2)
    assert probs.dtype == torch.float64 and probs.shape == (5, 10)
    assert torch.allclose(probs.sum(1), torch.ones(5, dtype=torch.float64))
    assert extract_features(model, images, batch_size=3).shape == (5, FEATURE_DIM)
    with pytest.raises(ValueError, match="must be"):
        class_probabilities(model, torch.rand(5, 1, 28, 28))


def test_augment_returns_shifted_windows_of_the_padded_image_possibly_flipped():
    images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = augment(images, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    windows = padded.unfold(2, 32, 1).unfold(3, 32, 1)  # (B, 3, 9, 9, 32, 32): every crop
    flips = set()
    for b in range(len(images)):
        candidates = windows[b].permute(1, 2, 0, 3, 4).reshape(81, 3, 32, 32)
        plain = (candidates == out[b]).flatten(1).all(1)
        flipped = (candidates.flip(3) == out[b]).flatten(1).all(1)
        assert plain.any() or flipped.any(), f"image {b} is not a crop of its padded image"
        flips.add(bool(flipped.any() and not plain.any()))
    assert flips == {True, False}, "16 images should include both flipped and unflipped ones"


def test_training_learns_an_easy_task_and_loading_twice_trains_once(cache, monkeypatch):
    train, test = easy_cifar_like(640, seed=0), easy_cifar_like(200, seed=1)
    first = load_feature_network(CPU, train, test, RECIPE, progress=False)
    assert first.info["trained_now"] and first.info["num_train"] == 640
    assert first.info["test_accuracy"] > 0.9, first.info
    assert first.info["test_accuracy"] == accuracy(first, test)
    assert not first.training and not any(p.requires_grad for p in first.parameters())
    (cached,) = cache.glob("feature_net/*.pt")

    def must_not_train(*args, **kwargs):
        raise AssertionError("the second load trained again")

    monkeypatch.setattr(feature_net, "train_classifier", must_not_train)
    second = load_feature_network(CPU, train, test, RECIPE, progress=False)
    assert not second.info["trained_now"] and second.info["cache_file"] == str(cached)
    assert second.info["test_accuracy"] == first.info["test_accuracy"]
    images = test.tensors[0][:50]
    assert torch.equal(class_probabilities(first, images), class_probabilities(second, images))


def test_other_training_data_or_recipe_means_another_cache_file(cache):
    train, other = easy_cifar_like(64, seed=0), easy_cifar_like(64, seed=2)
    one_epoch = TrainRecipe(num_epochs=1, batch_size=32)
    paths = {
        feature_net.cache_path(train, one_epoch),
        feature_net.cache_path(other, one_epoch),
        feature_net.cache_path(train, TrainRecipe(num_epochs=2, batch_size=32)),
    }
    assert len(paths) == 3
    assert feature_net.cache_path(train, one_epoch) == feature_net.cache_path(easy_cifar_like(64, 0), one_epoch)


def test_an_unreadable_cache_file_is_retrained_with_a_warning(cache):
    train, test = easy_cifar_like(64, seed=0), easy_cifar_like(32, seed=1)
    recipe = TrainRecipe(num_epochs=1, batch_size=32)
    path = feature_net.cache_path(train, recipe)
    path.write_bytes(b"not a checkpoint")  # e.g. a copy cut short
    with pytest.warns(UserWarning, match="unreadable"):
        model = load_feature_network(CPU, train, test, recipe, progress=False)
    assert model.info["trained_now"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file loads cleanly
        assert not load_feature_network(CPU, train, test, recipe, progress=False).info["trained_now"]


def test_default_recipe_scales_the_epochs_with_the_data(monkeypatch):
    monkeypatch.setenv("GM_SMOKE", "0")
    assert feature_net.default_recipe(4_000, CPU).num_epochs == 24
    assert feature_net.default_recipe(50_000, torch.device("cuda")).num_epochs == 15
    assert feature_net.default_recipe(50_000, CPU).num_epochs == 2
    monkeypatch.setenv("GM_SMOKE", "1")
    assert feature_net.default_recipe(1_024, CPU).num_epochs == 4
