"""Turn a submitted notebook into the notebook the autograder runs.

The submitted file is untrusted: it may be malformed JSON, not a notebook, an nbformat 4.0 file without cell ids
(Colab's default), or have cells duplicated, deleted or edited. We read the raw JSON ourselves (nbformat would
silently rename duplicate ids and invent missing ones), take only the *answer* cells from it, and put them into
the canonical solution notebook, whose every other cell — graded cells with their hidden tests included — is the
instructor's. NBVAL markers in answers are removed, so a student cannot skip or excuse a cell.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .release import BEGIN_SOLUTION, CODE_STUB, END_SOLUTION, MARKDOWN_STUB, replace_blocks, source_text

MAX_SUBMISSION_BYTES = 20 * 1024 * 1024
NBVAL_MARKER = re.compile(r"^\s*#\s*NBVAL_\w+.*$", re.MULTILINE)


class UnreadableSubmission(ValueError):
    """The file cannot be graded at all (not JSON, not a notebook, too large)."""


@dataclass
class Answers:
    """The answer cells found in a submission: ``sources[grader_id]`` and what was noticed on the way."""

    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_submission(path: Path) -> dict:
    """The submission's raw JSON as a dict with a list of cells; raises :class:`UnreadableSubmission`."""
    try:
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            raise UnreadableSubmission(f"file is {size / 2**20:.0f} MiB; at most {MAX_SUBMISSION_BYTES // 2**20} MiB")
        notebook = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise UnreadableSubmission(f"not a readable notebook: {type(err).__name__}: {err}"[:300]) from err
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise UnreadableSubmission("JSON without a list of cells: not a Jupyter notebook")
    return notebook


def _source(cell: dict) -> str | None:
    source = cell.get("source", "")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _grader_id(cell: dict):
    metadata = cell.get("metadata")
    grader = metadata.get("grader") if isinstance(metadata, dict) else None
    return grader.get("id") if isinstance(grader, dict) else None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def find_answers(submission: dict, solution: dict) -> Answers:
    """Match every answer cell of ``solution`` in ``submission``: by ``metadata.grader.id``, then by cell id, then
    (files whose metadata and ids were lost) by the answer's first line, e.g. ``def sample(n):``."""
    found = Answers()
    cells = [c for c in submission["cells"] if isinstance(c, dict)]
    if len(cells) != len(submission["cells"]):
        found.notes.append("some cells are not JSON objects and were ignored")
    for answer in (c for c in solution["cells"] if c.get("metadata", {}).get("grader", {}).get("kind") == "answer"):
        answer_id, cell_type = answer["id"], answer["cell_type"]
        same_type = [c for c in cells if c.get("cell_type") == cell_type]
        how, matches = "", [c for c in same_type if _grader_id(c) == answer_id]
        if not matches:
            how, matches = " by its cell id", [c for c in same_type if c.get("id") == answer_id]
        if not matches:
            first = _first_line(source_text(answer))
            how = " by its first line"
            matches = [c for c in same_type if first and _first_line(_source(c) or "") == first]
        if not matches:
            found.notes.append(f"answer cell {answer_id} is missing: graded as unanswered")
            continue
        if len(matches) > 1:
            found.notes.append(f"answer cell {answer_id} appears {len(matches)} times: the first one was graded")
        elif how:
            found.notes.append(f"answer cell {answer_id} matched{how}")
        source = _source(matches[0])
        if source is None:
            found.notes.append(f"answer cell {answer_id} has a malformed source: graded as unanswered")
            continue
        if NBVAL_MARKER.search(source):
            found.notes.append(f"answer cell {answer_id}: NBVAL markers removed")
            source = NBVAL_MARKER.sub("", source)
        found.sources[answer_id] = source
    return found


def unanswered(answer_cell: dict) -> str:
    """The student-version stub of an answer cell (what a blank submission holds)."""
    stub = CODE_STUB if answer_cell["cell_type"] == "code" else MARKDOWN_STUB
    return replace_blocks(source_text(answer_cell), BEGIN_SOLUTION, END_SOLUTION, stub, answer_cell["id"])


def assemble(solution: dict, answers: Answers) -> dict:
    """The notebook to grade: the solution with its answer cells replaced by the student's (or the stub).

    Outputs are cleared and cell metadata reduced to the grader entry, so no nbval tag survives.
    """
    notebook = copy.deepcopy(solution)
    for cell in notebook["cells"]:
        grader = cell.get("metadata", {}).get("grader")
        if grader and grader.get("kind") == "answer":
            cell["source"] = answers.sources.get(cell["id"], unanswered(cell))
        cell["metadata"] = {"grader": grader} if grader else {}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"] = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return notebook
