"""The Colab setup cell and the Open-in-Colab badges, from one table of settings.

Two repositories, both set in ``pyproject.toml`` under ``[tool.gm-course]`` with the ref (a tag, branch or commit)
to use from each:

- ``repo`` / ``ref``: this repository, the instructors' (private: solutions, hidden tests, the grader);
- ``student_repo`` / ``student_ref``: the student tree published from it (``python -m utils.release --export``),
  which is what Colab clones.

This command writes them everywhere they appear::

    python -m utils.colab --student-repo https://github.com/OWNER/NAME --student-ref 2026-fall   # change, rewrite
    python -m utils.colab --repo https://github.com/OWNER/PRIVATE --ref main                      # likewise
    python -m utils.colab                                                                         # rewrite only
    python -m utils.colab --check                                                 # exit 1 if anything is stale

"Everywhere" is the first cell of every notebook in ``lectures/``, ``solutions/`` and ``homeworks/`` (it clones
the student repository at the student ref), and every Open-in-Colab link in ``README.md``: lectures and homeworks
open from the student repository, solutions from the instructors' repository (Colab opens private GitHub
notebooks once the user has authorised it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import NamedTuple

from .config import REPO_ROOT

NOTEBOOK_DIRS = ("lectures", "solutions", "homeworks")
SETUP_CELL_ID = "colab-setup"
SETUP_MARKER = "# Course setup"  # first line of the setup cell: how it is recognised
_BADGE_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^/\s]+/(?P<notebook>[^\s)\"'>]+\.ipynb)"
)


class Settings(NamedTuple):
    """The ``[tool.gm-course]`` table: the two repositories and the ref used from each."""

    repo: str  # the instructors' repository (this one)
    ref: str
    student_repo: str  # the published student tree: what the setup cell clones
    student_ref: str


def read_settings(pyproject: Path = REPO_ROOT / "pyproject.toml") -> Settings:
    """The settings from ``[tool.gm-course]``."""
    table = tomllib.loads(pyproject.read_text())["tool"]["gm-course"]
    return Settings(**{key: table[key] for key in Settings._fields})


def write_settings(pyproject: Path = REPO_ROOT / "pyproject.toml", **changes: str) -> None:
    """Replace the ``key = "value"`` lines of the ``[tool.gm-course]`` table named in ``changes``, keeping
    everything else (comments included) as it is."""
    unknown = set(changes) - set(Settings._fields)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    text = pyproject.read_text()
    head, sep, rest = text.partition("[tool.gm-course]")
    if not sep:
        raise SystemExit(f"{pyproject} has no [tool.gm-course] table")
    # Only the table itself, up to the next table header: a later table may have its own "ref" key.
    table, next_sep, tail = rest.partition("\n[")
    for key, value in changes.items():
        match = re.search(rf'^{key}\s*=\s*"[^"]*"', table, re.MULTILINE)
        if not match:
            raise SystemExit(f'{pyproject}: [tool.gm-course] has no line {key} = "..." to replace')
        table = table[: match.start()] + f'{key} = "{value}"' + table[match.end() :]
    pyproject.write_text(head + sep + table + next_sep + tail)


def github_slug(repo: str) -> str:
    """``OWNER/NAME`` of a GitHub URL (Colab opens notebooks from GitHub)."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repo)
    if not match:
        raise ValueError(f"not a GitHub repository URL: {repo!r}")
    return f"{match[1]}/{match[2]}"


def check_ref(ref: str) -> str:
    """``ref`` if a Colab link can carry it: a Colab URL has no way to tell a slash in a ref from one in a path."""
    if not ref or re.search(r"[/\s\"]", ref):
        raise ValueError(f"not usable as a ref in a Colab link (no slashes, spaces or quotes): {ref!r}")
    return ref


def colab_link(repo: str, ref: str, notebook: str) -> str:
    """The URL that opens ``notebook`` (a path relative to the repo root) in Colab."""
    return f"https://colab.research.google.com/github/{github_slug(repo)}/blob/{ref}/{notebook}"


def badge_target(settings: Settings, notebook: str) -> tuple[str, str]:
    """(repository, ref) that a README badge for ``notebook`` opens: solutions exist only in the instructors'
    repository; everything else is opened from the student tree, which is what students can reach."""
    if notebook.startswith("solutions/"):
        return settings.repo, settings.ref
    return settings.student_repo, settings.student_ref


def setup_cell_source(repo: str, ref: str) -> str:
    """Source of the first cell of every notebook: a no-op outside Colab except for making ``utils``
    importable; in Colab, clones ``repo`` (the student tree) at ``ref`` once and installs what Colab lacks."""
    return f'''{SETUP_MARKER}: the same in every notebook, written by `python -m utils.colab` (do not edit).
# On Colab: fetch the course's student repository at a pinned ref once and install what Colab lacks.
# Elsewhere: only make the course's `utils` package importable.
import os
import subprocess
import sys

REPO_URL, REPO_REF = "{repo}", "{ref}"
if "google.colab" in sys.modules:
    REPO_DIR = "/content/gm-course"
    if not os.path.isdir(REPO_DIR):
        subprocess.run(["git", "clone", "--quiet", REPO_URL, REPO_DIR], check=True)
        subprocess.run(["git", "-C", REPO_DIR, "checkout", "--quiet", REPO_REF], check=True)
        pip_install = [sys.executable, "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip_install, "-r", f"{{REPO_DIR}}/requirements.txt"], check=True)
else:
    REPO_DIR = os.getcwd()
    while not os.path.isfile(os.path.join(REPO_DIR, "utils", "config.py")) and os.path.dirname(REPO_DIR) != REPO_DIR:
        REPO_DIR = os.path.dirname(REPO_DIR)  # walk up from the notebook's folder to the repository root
if REPO_DIR not in sys.path:
    sys.path.insert(0, REPO_DIR)'''


def setup_cell(repo: str, ref: str) -> dict:
    """The setup cell as notebook JSON (fixed id, no outputs)."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": SETUP_CELL_ID,
        "metadata": {},
        "outputs": [],
        "source": setup_cell_source(repo, ref).splitlines(keepends=True),
    }


def notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """Every course notebook, sorted."""
    return sorted(p for d in NOTEBOOK_DIRS for p in (root / d).glob("*.ipynb"))


def with_setup_cell(notebook: dict, repo: str, ref: str) -> dict:
    """``notebook`` with its first cell replaced by (or, if absent, preceded by) the setup cell."""
    cells = notebook["cells"]
    first_is_setup = cells and "".join(cells[0]["source"]).startswith(SETUP_MARKER)
    rest = cells[1:] if first_is_setup else cells
    return {**notebook, "cells": [setup_cell(repo, ref), *rest]}


def dump_notebook(notebook: dict) -> str:
    """Notebook JSON as nbformat writes it (sorted keys, one-space indent, trailing newline)."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(notebook)) + "\n"


def with_badges(readme: str, settings: Settings) -> str:
    """README text with every Open-in-Colab link pointed at the repository and ref of :func:`badge_target`."""
    return _BADGE_LINK.sub(lambda m: colab_link(*badge_target(settings, m["notebook"]), m["notebook"]), readme)


def rewrite(root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Bring the setup cells and badges in line with the settings; return the files that were (or, with
    ``check``, would be) changed."""
    settings = read_settings(root / "pyproject.toml")
    changed = []
    for path in notebooks(root):
        text = path.read_text(encoding="utf-8")
        new = dump_notebook(with_setup_cell(json.loads(text), settings.student_repo, settings.student_ref))
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    if (new := with_badges(text, settings)) != text:
        changed.append(readme)
        if not check:
            readme.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None, root: Path = REPO_ROOT) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.colab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="new GitHub URL of the instructors' repository (this one)")
    parser.add_argument("--ref", help="new tag, branch or commit of it that solution badges open")
    parser.add_argument("--student-repo", help="new GitHub URL of the published student repository")
    parser.add_argument("--student-ref", help="new tag, branch or commit of it that Colab checks out")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    changes = {key: getattr(args, key) for key in Settings._fields if getattr(args, key) is not None}
    if args.check and changes:
        parser.error("--check takes no --repo/--ref/--student-repo/--student-ref")
    if changes:
        try:  # validate everything before writing anything
            for key, value in changes.items():
                if key.endswith("repo"):
                    github_slug(value)
                else:
                    check_ref(value)
        except ValueError as err:
            parser.error(str(err))
        write_settings(root / "pyproject.toml", **changes)
    changed = rewrite(root, check=args.check)
    for path in changed:
        print(f"{'stale' if args.check else 'rewrote'}: {path.relative_to(root)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
