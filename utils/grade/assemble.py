"""Turn a submitted notebook into the notebook the autograder runs (in the grader's process).

The submitted file is untrusted: it may be malformed JSON, hold integers of more than 4,300 digits (which
Python's parser refuses: we keep them as text, so a stray one costs nothing), not be a notebook, be an nbformat
4.0 file without cell ids (Colab's default), or have cells duplicated, deleted or edited. We read the raw JSON
ourselves (nbformat would silently rename duplicate ids and invent missing ones), take only the *answer* cells
from it, and put them into the canonical solution notebook, whose every other cell — graded cells with their
hidden tests included — is the instructor's. NBVAL markers in answers are removed, so a student cannot skip or
excuse a cell.

Every graded cell gets one last line of the grader's own: a ``report`` of a number drawn afresh for each run.
The grader accepts the cell only if that number comes back, so a cell that stopped early — say at an exception
that a student's ``set_custom_exc`` handler swallowed — is not counted as passed.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..authoring import ANSWER, GRADED, cells_of_kind, grader_entry, source_text, unanswered

MAX_SUBMISSION_BYTES = 20 * 1024 * 1024
NBVAL_MARKER = re.compile(r"^\s*#\s*NBVAL_\w+.*$", re.MULTILINE)
FINISHED = "graded cell finished"  # the name of the grader's own last report in every graded cell


class UnreadableSubmission(ValueError):
    """The file cannot be graded at all (not JSON, not a notebook, too large)."""


@dataclass
class Answers:
    """The answer cells found in a submission: ``sources[grader_id]`` and what was noticed on the way."""

    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Assembled:
    """The notebook to run and the number each graded cell must report last to show it ran to the end."""

    notebook: dict
    finish_token: int


def _parse_int(digits: str) -> int | str:
    """JSON integers too long for Python's parser (over 4,300 digits) stay text: no notebook field we read is one."""
    return int(digits) if len(digits) <= 4000 else digits


def read_submission(path: Path) -> dict:
    """The submission's raw JSON as a dict with a list of cells; raises :class:`UnreadableSubmission`."""
    try:
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            raise UnreadableSubmission(f"file is {size / 2**20:.0f} MiB; at most {MAX_SUBMISSION_BYTES // 2**20} MiB")
        notebook = json.loads(path.read_bytes().decode("utf-8"), parse_int=_parse_int)
    except UnreadableSubmission:
        raise
    except (OSError, ValueError, RecursionError, MemoryError) as err:  # ValueError: bad JSON, UTF-8, huge ints
        raise UnreadableSubmission(f"not a readable notebook ({type(err).__name__})") from err
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
    for answer in cells_of_kind(solution, ANSWER):
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


def finish_line(token: int) -> str:
    """The grader's last line of every graded cell (imports ``report`` itself: a student may rebind the name)."""
    return f'\n__import__("utils.graded", fromlist=["report"]).report({FINISHED!r}, {token}, rtol=0, atol=0)\n'


def assemble(solution: dict, answers: Answers) -> Assembled:
    """The notebook to grade: the solution with its answer cells replaced by the student's (or the stub), and a
    fresh finish line at the end of every graded cell.

    Outputs are cleared and cell metadata reduced to the grader entry, so no nbval tag survives.
    """
    token = secrets.randbelow(2**52)  # exactly representable as float64, which is how values travel
    notebook = copy.deepcopy(solution)
    for cell in notebook["cells"]:
        grader = grader_entry(cell)
        if grader and grader.get("kind") == ANSWER:
            cell["source"] = answers.sources.get(cell["id"], unanswered(cell))
        elif grader and grader.get("kind") == GRADED:
            cell["source"] = source_text(cell).rstrip("\n") + finish_line(token)
        cell["metadata"] = {"grader": grader} if grader else {}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"] = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return Assembled(notebook, token)


def solution_answers(solution: dict) -> Answers:
    """The solution's own answers, as a submission would hold them."""
    return Answers(sources={c["id"]: source_text(c) for c in cells_of_kind(solution, ANSWER)})
