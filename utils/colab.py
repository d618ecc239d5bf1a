"""The Colab setup cell and the Open-in-Colab badges, from one setting.

The repository URL and the pinned ref (a tag, branch or commit) live in ``pyproject.toml`` under
``[tool.gm-course]``. This command writes them everywhere they appear::

    python -m utils.colab --repo https://github.com/OWNER/NAME --ref v2026.1   # change, then rewrite
    python -m utils.colab                                                     # rewrite from the setting
    python -m utils.colab --check                                             # exit 1 if anything is stale

"Everywhere" is the first cell of every notebook in ``lectures/``, ``solutions/`` and ``homeworks/``, and
every Open-in-Colab link in ``README.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

from .config import REPO_ROOT

NOTEBOOK_DIRS = ("lectures", "solutions", "homeworks")
SETUP_CELL_ID = "colab-setup"
SETUP_MARKER = "# Course setup"  # first line of the setup cell: how it is recognised
_SETTING = re.compile(r'^(?P<key>repo|ref)\s*=\s*"(?P<value>[^"]*)"', re.MULTILINE)
_BADGE_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^/\s]+/")


def read_setting(pyproject: Path = REPO_ROOT / "pyproject.toml") -> tuple[str, str]:
    """(repo URL, ref) from ``[tool.gm-course]``."""
    table = tomllib.loads(pyproject.read_text())["tool"]["gm-course"]
    return table["repo"], table["ref"]


def write_setting(repo: str, ref: str, pyproject: Path = REPO_ROOT / "pyproject.toml") -> None:
    """Replace the ``repo`` and ``ref`` lines of the ``[tool.gm-course]`` table."""
    text = pyproject.read_text()
    head, sep, table = text.partition("[tool.gm-course]")
    if not sep:
        raise SystemExit(f"{pyproject} has no [tool.gm-course] table")
    values = {"repo": repo, "ref": ref}
    table = _SETTING.sub(lambda m: f'{m["key"]} = "{values[m["key"]]}"', table)
    pyproject.write_text(head + sep + table)


def github_slug(repo: str) -> str:
    """``OWNER/NAME`` of a GitHub URL (Colab opens notebooks from GitHub)."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repo)
    if not match:
        raise ValueError(f"not a GitHub repository URL: {repo!r}")
    return f"{match[1]}/{match[2]}"


def colab_link(repo: str, ref: str, notebook: str) -> str:
    """The URL that opens ``notebook`` (a path relative to the repo root) in Colab."""
    return f"https://colab.research.google.com/github/{github_slug(repo)}/blob/{ref}/{notebook}"


def setup_cell_source(repo: str, ref: str) -> str:
    """Source of the first cell of every notebook: a no-op outside Colab except for making ``utils``
    importable; in Colab, clones the course at ``ref`` once and installs what Colab lacks."""
    return f'''{SETUP_MARKER}: the same in every notebook, written by `python -m utils.colab` (do not edit).
# On Colab: fetch the course code at a pinned ref once and install what Colab lacks.
# Elsewhere: only make the repository's `utils` package importable.
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


def with_badges(readme: str, repo: str, ref: str) -> str:
    """README text with every Open-in-Colab link pointed at ``repo`` and ``ref``."""
    return _BADGE_LINK.sub(f"https://colab.research.google.com/github/{github_slug(repo)}/blob/{ref}/", readme)


def rewrite(root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Bring the setup cells and badges in line with the setting; return the files that were (or, with
    ``check``, would be) changed."""
    repo, ref = read_setting(root / "pyproject.toml")
    changed = []
    for path in notebooks(root):
        text = path.read_text(encoding="utf-8")
        new = dump_notebook(with_setup_cell(json.loads(text), repo, ref))
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    if (new := with_badges(text, repo, ref)) != text:
        changed.append(readme)
        if not check:
            readme.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.colab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="new GitHub URL of the course repository")
    parser.add_argument("--ref", help="new tag, branch or commit that Colab checks out")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if args.check and (args.repo or args.ref):
        parser.error("--check takes no --repo/--ref")
    if args.repo or args.ref:
        repo, ref = read_setting()
        github_slug(args.repo or repo)  # validate before writing anything
        write_setting(args.repo or repo, args.ref or ref)
    changed = rewrite(check=args.check)
    for path in changed:
        print(f"{'stale' if args.check else 'rewrote'}: {path.relative_to(REPO_ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
