"""The Colab setup cell and badges: one setting, written everywhere, a no-op outside Colab."""

import json
import re
import shutil
import subprocess
import sys

from utils import colab
from utils.config import REPO_ROOT


def test_every_notebook_starts_with_the_current_setup_cell():
    repo, ref = colab.read_setting()
    assert colab.notebooks(), "no notebooks found"
    for path in colab.notebooks():
        first = json.loads(path.read_text())["cells"][0]
        assert "".join(first["source"]) == colab.setup_cell_source(repo, ref), f"{path}: run python -m utils.colab"
    assert colab.rewrite(check=True) == []


def test_readme_has_a_current_badge_for_every_student_notebook():
    repo, ref = colab.read_setting()
    readme = (REPO_ROOT / "README.md").read_text()
    for path in colab.notebooks():
        relative = path.relative_to(REPO_ROOT).as_posix()
        if relative.startswith("solutions/"):
            continue  # solutions are for instructors
        assert colab.colab_link(repo, ref, relative) in readme, f"README lacks a Colab badge for {relative}"
    links = re.findall(r"https://colab\.research\.google\.com/github/\S+?\.ipynb", readme)
    assert links and all(f"/blob/{ref}/" in link for link in links)


def test_setup_cell_outside_colab_only_makes_utils_importable(tmp_path, monkeypatch):
    source = colab.setup_cell_source(*colab.read_setting())
    monkeypatch.chdir(REPO_ROOT / "lectures")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in (str(REPO_ROOT), "")])
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"the setup cell ran a command outside Colab: {args}")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    namespace = {}
    exec(source, namespace)
    assert namespace["REPO_DIR"] == str(REPO_ROOT) and sys.path[0] == str(REPO_ROOT)
    exec(source, namespace)  # idempotent: a second run adds nothing
    assert sys.path.count(str(REPO_ROOT)) == 1


def test_setup_cell_on_colab_clones_pins_and_installs(monkeypatch):
    source = colab.setup_cell_source("https://github.com/someone/course", "v1.2")
    commands = []
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: commands.append(cmd))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr("os.path.isdir", lambda p: False)
    exec(source, {})
    assert commands[0][:2] == ["git", "clone"] and "https://github.com/someone/course" in commands[0]
    assert commands[1][-1] == "v1.2" and "checkout" in commands[1]
    assert commands[2][-2:] == ["-r", "/content/gm-course/requirements.txt"]


def test_one_command_rewrites_repo_and_ref_everywhere(tmp_path):
    for folder in colab.NOTEBOOK_DIRS:
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    colab.write_setting("https://github.com/new-owner/new-name", "2027-spring", tmp_path / "pyproject.toml")
    changed = colab.rewrite(root=tmp_path)
    assert tmp_path / "README.md" in changed and len(changed) == len(colab.notebooks(tmp_path)) + 1
    readme = (tmp_path / "README.md").read_text()
    assert "github/new-owner/new-name/blob/2027-spring/lectures/01_pushforward.ipynb" in readme
    cell = json.loads((tmp_path / "lectures" / "01_pushforward.ipynb").read_text())["cells"][0]
    assert '"https://github.com/new-owner/new-name", "2027-spring"' in "".join(cell["source"])
    assert colab.rewrite(root=tmp_path, check=True) == []


def test_only_github_urls_are_accepted():
    assert colab.github_slug("https://github.com/a/b.git") == "a/b"
    for bad in ("https://gitlab.com/a/b", "github.com/a/b", "https://github.com/a"):
        try:
            colab.github_slug(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
