"""The Colab setup cell and badges: one table of settings, written everywhere, a no-op outside Colab. Notebooks
clone the student repository; only the solution badges open the instructors' repository."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from utils import colab
from utils.config import REPO_ROOT

COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/\S+?\.ipynb")


def test_every_notebook_starts_with_the_current_setup_cell_cloning_the_student_repository():
    settings = colab.read_settings()
    assert colab.notebooks(), "no notebooks found"
    for path in colab.notebooks():
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert first == colab.setup_cell_source(settings.student_repo, settings.student_ref), f"{path}: run utils.colab"
        assert f'REPO_URL, REPO_REF = "{settings.student_repo}", "{settings.student_ref}"' in first
    assert colab.rewrite(check=True) == []


def test_readme_badges_open_students_notebooks_from_the_student_repository_and_solutions_from_ours():
    settings = colab.read_settings()
    readme = (REPO_ROOT / "README.md").read_text()
    expected = set()
    for path in colab.notebooks():
        relative = path.relative_to(REPO_ROOT).as_posix()
        repo, ref = (
            (settings.repo, settings.ref)
            if relative.startswith("solutions/")
            else (settings.student_repo, settings.student_ref)
        )
        expected.add(colab.colab_link(repo, ref, relative))
        assert colab.colab_link(repo, ref, relative) in readme, f"README lacks a Colab badge for {relative}"
    assert set(COLAB_LINK.findall(readme)) == expected  # and no link anywhere else
    assert settings.repo != settings.student_repo


def test_setup_cell_outside_colab_only_makes_utils_importable(tmp_path, monkeypatch):
    settings = colab.read_settings()
    source = colab.setup_cell_source(settings.student_repo, settings.student_ref)
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


@pytest.fixture
def course_copy(tmp_path):
    for folder in colab.NOTEBOOK_DIRS:
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def test_one_command_rewrites_both_repositories_everywhere(course_copy, capsys):
    root = course_copy
    argv = [
        "--student-repo",
        "https://github.com/new-owner/public",
        "--student-ref",
        "2027-spring",
        "--repo",
        "https://github.com/new-owner/private",
        "--ref",
        "staff",
    ]
    assert colab.main(argv, root=root) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(colab.notebooks(root)) + 1  # every notebook + README
    assert colab.read_settings(root / "pyproject.toml") == colab.Settings(
        "https://github.com/new-owner/private", "staff", "https://github.com/new-owner/public", "2027-spring"
    )
    readme = (root / "README.md").read_text()
    assert "github/new-owner/public/blob/2027-spring/lectures/01_pushforward.ipynb" in readme
    assert "github/new-owner/public/blob/2027-spring/homeworks/hw0.ipynb" in readme
    assert "github/new-owner/private/blob/staff/solutions/hw0.ipynb" in readme
    for path in colab.notebooks(root):  # solutions too: Colab clones only the student tree
        cell = json.loads(path.read_text())["cells"][0]
        assert '"https://github.com/new-owner/public", "2027-spring"' in "".join(cell["source"]), path
    assert colab.main(["--check"], root=root) == 0
    assert colab.rewrite(root=root, check=True) == []


def test_check_names_stale_files_and_bad_values_are_refused_before_writing(course_copy, capsys):
    root = course_copy
    colab.write_settings(root / "pyproject.toml", student_ref="v2")
    assert colab.main(["--check"], root=root) == 1
    assert "stale: lectures/01_pushforward.ipynb" in capsys.readouterr().out
    before = (root / "pyproject.toml").read_text()
    for argv in (
        ["--student-repo", "https://gitlab.com/a/b"],
        ["--student-ref", "release/2027"],
        ["--student-ref", "v3", "--repo", "github.com/a/b"],
        ["--check", "--ref", "x"],
    ):
        with pytest.raises(SystemExit):
            colab.main(argv, root=root)
        assert (root / "pyproject.toml").read_text() == before, argv


def test_write_settings_changes_only_its_own_table(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.gm-course]\n# keep me\nrepo = "a"\nref = "b"\nstudent_repo = "c"\nstudent_ref = "d"\n'
        '\n[tool.other]\nref = "untouched"\n'
    )
    colab.write_settings(pyproject, ref="B", student_ref="D")
    assert pyproject.read_text() == (
        '[tool.gm-course]\n# keep me\nrepo = "a"\nref = "B"\nstudent_repo = "c"\n'
        'student_ref = "D"\n\n[tool.other]\nref = "untouched"\n'
    )
    with pytest.raises(ValueError, match="unknown settings"):
        colab.write_settings(pyproject, branch="x")
    pyproject.write_text('[tool.gm-course]\nrepo = "a"\n\n[tool.other]\nref = "untouched"\n')
    with pytest.raises(SystemExit, match="has no line ref"):  # not the other table's line
        colab.write_settings(pyproject, ref="B")
    assert pyproject.read_text() == '[tool.gm-course]\nrepo = "a"\n\n[tool.other]\nref = "untouched"\n'


def test_only_github_urls_are_accepted():
    assert colab.github_slug("https://github.com/a/b.git") == "a/b"
    for bad in ("https://gitlab.com/a/b", "github.com/a/b", "https://github.com/a"):
        with pytest.raises(ValueError):
            colab.github_slug(bad)
