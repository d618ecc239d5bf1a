import torch

from utils import config


def test_smoke_switch_reads_the_environment(monkeypatch):
    for value, expected in [("1", True), ("true", True), ("ON", True), ("0", False), ("", False), ("no", False)]:
        monkeypatch.setenv("GM_SMOKE", value)
        assert config.is_smoke() is expected
    monkeypatch.delenv("GM_SMOKE")
    assert config.is_smoke() is False


def test_pick_shrinks_only_in_smoke_mode(monkeypatch):
    monkeypatch.setenv("GM_SMOKE", "1")
    assert config.pick(full=40, smoke=1) == 1
    monkeypatch.setenv("GM_SMOKE", "0")
    assert config.pick(full=40, smoke=1) == 40


def test_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_device() == torch.device("cuda")


def test_seed_everything_makes_draws_repeatable():
    generator = config.seed_everything(123)
    first = (torch.rand(3), torch.rand(3, generator=generator))
    generator = config.seed_everything(123)
    second = (torch.rand(3), torch.rand(3, generator=generator))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    config.seed_everything(124)
    assert not torch.equal(torch.rand(3), first[0])


def test_data_root_and_cache_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("GM_DATA", raising=False)
    monkeypatch.delenv("GM_CACHE", raising=False)
    assert config.data_root() == config.REPO_ROOT / "data"
    assert config.cache_root() == config.REPO_ROOT / "data"
    monkeypatch.setenv("GM_DATA", str(tmp_path / "ro"))
    monkeypatch.setenv("GM_CACHE", str(tmp_path / "rw"))
    assert config.data_root() == tmp_path / "ro"
    assert config.cache_dir("mnist") == tmp_path / "rw" / "mnist" and (tmp_path / "rw" / "mnist").is_dir()
