"""The student tree: what students get, generated from this repository (the instructors', which they must not see).

    python -m utils.release --export DIR hw0 hw1    # lectures, and the student versions of hw0 and hw1

The tree holds ``lectures/*.ipynb`` as committed, the student versions of the homeworks named (a course releases
them one at a time), the part of ``utils`` that notebooks import at run time (:data:`RUNTIME_UTILS`),
``requirements.txt``, ``LICENSE``, a ``.gitignore`` and a student ``README.md`` generated from the notebooks'
titles and ``[tool.gm-course]``. Never: ``solutions/``, ``tests/``, the grader and builder code, CI files,
``pyproject.toml`` or this repository's history. It is published as the student repository, which every
notebook's setup cell clones on Colab.

The export is deterministic (same input, same bytes: no timestamps, sorted order) and refuses, before writing
anything, stale homework versions or setup cells: regenerate them first (``python -m utils.release``,
``python -m utils.colab``) so that what is published is what is committed here.

``DIR`` may be missing, empty (a fresh clone of an empty repository, holding only ``.git``, counts as empty) or a
previous export, recognised by its :data:`MARKER` file: then everything in it but ``.git`` is replaced, so that
instructors can export into a checkout of the student repository, review the diff, commit and push. Any other
non-empty ``DIR`` is refused and nothing in it is deleted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .authoring import build_student_notebook, source_text
from .colab import Settings, colab_link, dump_notebook, github_slug, read_settings, with_setup_cell
from .config import REPO_ROOT

# The files of utils/ that notebooks import at run time, and nothing else: the autograder also uses this tuple to
# decide what a student's kernel may see. Each imports only modules of this set (tests/test_student_tree.py checks).
RUNTIME_UTILS = ("__init__.py", "config.py", "data.py", "feature_net.py", "graded.py", "metrics.py", "plot.py")
COPIED_FILES = ("requirements.txt", "LICENSE")  # copied as they are from the repository root
MARKER = ".gm-course-export"  # written into every export: how a previous export is recognised
KEPT = (".git",)  # what a re-export leaves in place: the checkout of the student repository
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"

STUDENT_GITIGNORE = """\
# datasets and downloads (the notebooks' default data folder; GM_DATA / GM_CACHE choose another)
data/
# Python and Jupyter
__pycache__/
.ipynb_checkpoints/
.venv/
"""


class ExportError(Exception):
    """The student tree cannot be exported as asked; nothing was written or deleted."""


def student_notebook_text(solution_path: Path, root: Path = REPO_ROOT) -> str:
    """The student version of a solution notebook, as the bytes of ``homeworks/`` hold it when it is current."""
    relative = solution_path.relative_to(root).as_posix()
    return dump_notebook(build_student_notebook(json.loads(solution_path.read_text(encoding="utf-8")), relative))


def homework_names(root: Path = REPO_ROOT) -> list[str]:
    """``hw0``, ``hw1``, ...: the homeworks that have a solution notebook, sorted."""
    return sorted(p.stem for p in (root / "solutions").glob("hw*.ipynb"))


def notebook_title(text: str, name: str) -> tuple[str, str]:
    """(label, topic) from the first ``# `` heading of a notebook's first markdown cell, which the course's
    notebooks all start with, e.g. ``# Lecture 1 — Pushforward distributions`` -> ("Lecture 1", "Pushforward
    distributions"); a heading without the dash gives ("", heading)."""
    markdown = [c for c in json.loads(text)["cells"] if c["cell_type"] == "markdown"]
    lines = source_text(markdown[0]).splitlines() if markdown else []
    heading = next((line[2:].strip() for line in lines if line.startswith("# ")), None)
    if not heading:
        raise ExportError(f"{name}: its first markdown cell needs a '# Title' heading (the student README lists it)")
    label, dash, topic = heading.partition(" — ")
    return (label, topic) if dash else ("", heading)


def _badge(settings: Settings, notebook: str) -> str:
    link = colab_link(settings.student_repo, settings.student_ref, notebook)
    return f"[{Path(notebook).stem}]({notebook}) [![Open In Colab]({BADGE_IMAGE})]({link})"


def student_readme(notebooks: dict[str, str], settings: Settings) -> str:
    """The student tree's README: the course, a table of the lectures and one of the released homeworks with
    their Colab badges, and how to open, run and submit them. ``notebooks`` maps exported paths to their text."""

    def rows(folder: str) -> list[str]:
        out = []
        for path in sorted(p for p in notebooks if p.startswith(f"{folder}/")):
            label, topic = notebook_title(notebooks[path], path)
            topic = topic.replace("|", "\\|")  # a bar would end the table cell
            out.append(f"| {label or Path(path).stem} | {topic} | {_badge(settings, path)} |")
        return out

    lectures, homeworks = rows("lectures"), rows("homeworks")
    homework_table = (
        ["| Homework | Topics | Notebook |", "|---|---|---|", *homeworks]
        if homeworks
        else ["No homework has been released yet."]
    )
    name = github_slug(settings.student_repo).split("/")[1]  # the folder `git clone` makes
    lines = [
        "# Generative Models — course notebooks",
        "",
        "The lecture notebooks and homeworks of a graduate course on **generative models**: autoregressive models,",
        "VAEs, GANs, normalizing flows, energy-based and score-based models, diffusion. Every notebook runs top to",
        "bottom on Google Colab and on a laptop CPU, and every mathematical claim in a lecture is checked by a",
        "numerical `assert`.",
        "",
        "This repository is generated by the course staff and replaced at each release: report problems to them",
        "rather than in pull requests here.",
        "",
        "## Lectures",
        "",
        "| Lecture | Topics | Notebook |",
        "|---|---|---|",
        *lectures,
        "",
        "## Homeworks",
        "",
        "Homeworks appear here as they are released.",
        "",
        *homework_table,
        "",
        "## Open a notebook in Colab",
        "",
        "1. Click the notebook's *Open in Colab* badge above and sign in with a Google account.",
        "2. Run the first cell. It fetches this repository (at the version pinned for the course) and installs what",
        "   Colab lacks; outside Colab it only makes the course's `utils` package importable.",
        "3. Colab does not keep a notebook opened from GitHub: *File → Save a copy in Drive* to keep your work.",
        "   Notebooks that train networks run faster on a GPU (*Runtime → Change runtime type*).",
        "",
        "## Work locally",
        "",
        "Python 3.11 or newer:",
        "",
        "```bash",
        f"git clone {settings.student_repo} && cd {name}",
        "python -m venv .venv && . .venv/bin/activate   # Windows: .venv\\Scripts\\activate",
        "pip install -r requirements.txt jupyterlab",
        "jupyter lab",
        "```",
        "",
        "Open a notebook from `lectures/` or `homeworks/` and run it from the top. Datasets are downloaded on first",
        "use into `data/` (set `GM_DATA` to read them from elsewhere). `GM_SMOKE=1 jupyter lab` runs every notebook",
        "with small data subsets and few steps: a quick check that everything works before a long run.",
        "",
        "## Submit a homework",
        "",
        "1. Write your code where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), and run",
        "   the self-check cell after each answer: it tells you right away if something is off.",
        "2. Leave the cells marked *graded* as they are: the autograder runs its own copy of them, with hidden tests",
        "   on other inputs. Do not delete, split or merge cells.",
        "3. Run the whole notebook from the top (*Runtime → Restart session and run all*).",
        "4. *File → Download → Download .ipynb*, and hand in that file (a homework marked *no submission* is a",
        "   warm-up: nothing to hand in).",
        "",
        "## License",
        "",
        "Code under the MIT license, the text of the notebooks under CC BY 4.0: see [LICENSE](LICENSE).",
        "",
    ]
    return "\n".join(lines)


def _stale_setup_cell(text: str, settings: Settings) -> bool:
    """Whether a notebook's first cell is not the setup cell that ``python -m utils.colab`` writes now."""
    return dump_notebook(with_setup_cell(json.loads(text), settings.student_repo, settings.student_ref)) != text


def student_files(homeworks: list[str], root: Path = REPO_ROOT) -> dict[str, bytes]:
    """Every file of the student tree, ``{relative POSIX path: content}`` in sorted order, for the homeworks
    named. Raises :class:`ExportError` for an unknown homework, a stale ``homeworks/`` or setup cell."""
    settings = read_settings(root / "pyproject.toml")
    wanted = sorted({name.removesuffix(".ipynb") for name in homeworks})
    unknown = sorted(set(wanted) - set(homework_names(root)))
    if unknown:
        raise ExportError(f"no solution notebook for: {', '.join(unknown)} (known: {', '.join(homework_names(root))})")

    notebooks = {f"lectures/{p.name}": p.read_text(encoding="utf-8") for p in (root / "lectures").glob("*.ipynb")}
    stale = []
    for name in wanted:
        committed = root / "homeworks" / f"{name}.ipynb"
        built = student_notebook_text(root / "solutions" / f"{name}.ipynb", root)
        if not committed.is_file() or committed.read_text(encoding="utf-8") != built:
            stale.append(f"homeworks/{name}.ipynb")
        notebooks[f"homeworks/{name}.ipynb"] = built
    if stale:
        raise ExportError(
            f"stale student version: {', '.join(stale)}; run python -m utils.release, review and commit, then export"
        )
    stale = sorted(path for path, text in notebooks.items() if _stale_setup_cell(text, settings))
    if stale:
        raise ExportError(f"stale setup cell in: {', '.join(stale)}; run python -m utils.colab (then utils.release)")

    files = {path: text.encode("utf-8") for path, text in notebooks.items()}
    files |= {f"utils/{name}": (root / "utils" / name).read_bytes() for name in RUNTIME_UTILS}
    files |= {name: (root / name).read_bytes() for name in COPIED_FILES}
    files["README.md"] = student_readme(notebooks, settings).encode("utf-8")
    files[".gitignore"] = STUDENT_GITIGNORE.encode("utf-8")
    files[MARKER] = marker_text(wanted).encode("utf-8")
    return dict(sorted(files.items()))


def marker_text(homeworks: list[str]) -> str:
    """The marker file's content: what the folder is, and which homeworks it holds (no date: deterministic)."""
    released = " ".join(homeworks) or "none"
    return (
        "This folder is a student tree exported by `python -m utils.release --export` from the course's\n"
        "instructor repository. The next export replaces everything here except .git/.\n"
        f"homeworks: {released}\n"
    )


def clear_target(target: Path, root: Path = REPO_ROOT) -> None:
    """Make ``target`` ready for an export: create it, or empty a previous export of everything but :data:`KEPT`.
    Raises :class:`ExportError`, deleting nothing, for anything else."""
    if root.resolve().is_relative_to(target.resolve()):
        raise ExportError(f"{target} holds the instructors' repository: export somewhere outside it")
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} exists and is not a folder")
    if not target.exists():
        target.mkdir(parents=True)
        return
    entries = sorted(p for p in target.iterdir() if p.name not in KEPT)
    if entries and not (target / MARKER).is_file():
        raise ExportError(
            f"{target} is not empty and is not a previous export (it has no {MARKER}): nothing was deleted. "
            "Export into a new or empty folder, or into a checkout of the student repository."
        )
    for entry in sorted(entries, key=lambda p: p.name == MARKER):  # the marker last, as long as anything remains
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def export(target: Path, homeworks: list[str], root: Path = REPO_ROOT) -> list[str]:
    """Write the student tree for ``homeworks`` into ``target``; return the relative paths written.

    Everything is built and checked before anything in ``target`` is touched, so an error deletes nothing."""
    files = student_files(homeworks, root)
    clear_target(target, root)
    # The marker first: an export interrupted half-way is still recognised, and replaced, by the next one.
    for relative in sorted(files, key=lambda path: path != MARKER):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[relative])
    return list(files)
