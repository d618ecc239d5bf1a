"""The homework authoring format, in one place: what the student-version builder and the autograder both read.

In a solution notebook (``solutions/hwN.ipynb``, the single source of a homework):

- an **answer cell** has the metadata ``{"grader": {"id": "q2a-code", "kind": "answer"}}``; its solution sits
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines, which the student version replaces by
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` at the same indentation (``YOUR ANSWER HERE`` in a
  markdown cell);
- a **graded cell** has ``{"grader": {"id": "q2a", "kind": "graded", "points": 3}}``; the lines between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are dropped from the student version. Its hidden tests
  hand values to the grader with ``report(...)`` (:mod:`utils.graded`): a graded cell that reports nothing is
  refused, since nothing of it could be checked outside the student's kernel;
- the cell ``id`` of these cells equals ``grader.id``.
"""

from __future__ import annotations

import copy
import re

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
ANSWER, GRADED = "answer", "graded"
GRADER_KINDS = (ANSWER, GRADED)
_REPORT_CALL = re.compile(r"^\s*report\(", re.MULTILINE)


class AuthoringError(ValueError):
    """The solution notebook breaks the authoring format."""


def source_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def grader_entry(cell: dict) -> dict | None:
    """The ``grader`` metadata of a cell of an instructor's notebook, or None."""
    return cell.get("metadata", {}).get("grader")


def cells_of_kind(notebook: dict, kind: str) -> list[dict]:
    """The answer (``kind="answer"``) or graded cells of an instructor's notebook, in order."""
    return [c for c in notebook["cells"] if (grader_entry(c) or {}).get("kind") == kind]


def graded_points(notebook: dict) -> dict[str, float]:
    """``{graded cell id: points}`` in notebook order."""
    return {c["id"]: grader_entry(c)["points"] for c in cells_of_kind(notebook, GRADED)}


def replace_blocks(text: str, begin: str, end: str, stub: tuple[str, ...], where: str) -> str:
    """Replace every ``begin``...``end`` block (marker lines included) by ``stub`` lines indented like the
    ``begin`` line. Raises :class:`AuthoringError` on unbalanced markers."""
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise AuthoringError(f"{where}: nested {begin!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in stub)
        elif stripped == end:
            if not inside:
                raise AuthoringError(f"{where}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AuthoringError(f"{where}: {begin!r} without {end!r}")
    return "\n".join(out)


def block_lines(text: str, begin: str, end: str) -> list[str]:
    """The lines inside every ``begin``...``end`` block of ``text`` (markers excluded)."""
    lines, inside = [], False
    for line in text.split("\n"):
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def hidden_line_numbers(text: str) -> set[int]:
    """1-based numbers of the lines of ``text`` that lie in a hidden-test block, markers included."""
    hidden, inside = set(), False
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        if inside:
            hidden.add(number)
        if line.strip() == END_HIDDEN:
            inside = False
    return hidden


def validate_solution(notebook: dict, name: str = "solution") -> None:
    """Check the authoring rules; raise :class:`AuthoringError` naming the first broken one."""
    seen: set[str] = set()
    for index, cell in enumerate(notebook["cells"]):
        grader = grader_entry(cell)
        text = source_text(cell)
        where = f"{name}, cell {index} (id {cell.get('id')!r})"
        has_solution = BEGIN_SOLUTION in text
        has_hidden = BEGIN_HIDDEN in text
        if grader is None:
            if has_solution or has_hidden:
                raise AuthoringError(f"{where}: markers in a cell without grader metadata")
            continue
        kind, grader_id = grader.get("kind"), grader.get("id")
        if kind not in GRADER_KINDS or not grader_id:
            raise AuthoringError(f"{where}: grader metadata needs an id and a kind in {GRADER_KINDS}")
        if cell.get("id") != grader_id:
            raise AuthoringError(f"{where}: cell id must equal grader.id {grader_id!r}")
        if grader_id in seen:
            raise AuthoringError(f"{where}: duplicate grader id {grader_id!r}")
        seen.add(grader_id)
        if kind == ANSWER and (not has_solution or has_hidden):
            raise AuthoringError(f"{where}: an answer cell holds a solution block and no hidden tests")
        if kind == GRADED:
            points = grader.get("points")
            if cell["cell_type"] != "code" or has_solution:
                raise AuthoringError(f"{where}: a graded cell is code without a solution block")
            if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
                raise AuthoringError(f"{where}: a graded cell needs positive points, got {points!r}")
            hidden = "\n".join(block_lines(text, BEGIN_HIDDEN, END_HIDDEN))
            if not _REPORT_CALL.search(hidden):
                raise AuthoringError(
                    f"{where}: a graded cell must hand at least one value to the grader with report(...) in its "
                    "hidden tests (asserts alone are decided inside the student's kernel)"
                )


def student_cell(cell: dict, where: str) -> dict:
    """The student version of one cell: solutions stubbed, hidden tests dropped, outputs cleared."""
    cell = copy.deepcopy(cell)
    text = source_text(cell)
    if cell["cell_type"] == "code":
        text = replace_blocks(text, BEGIN_SOLUTION, END_SOLUTION, CODE_STUB, where)
        text = replace_blocks(text, BEGIN_HIDDEN, END_HIDDEN, (), where)
        cell["outputs"], cell["execution_count"] = [], None
    else:
        text = replace_blocks(text, BEGIN_SOLUTION, END_SOLUTION, MARKDOWN_STUB, where)
    cell["source"] = text
    for key in ("execution", "collapsed", "scrolled"):
        cell.get("metadata", {}).pop(key, None)
    return cell


def unanswered(answer_cell: dict) -> str:
    """The student-version source of an answer cell (what a blank submission holds)."""
    stub = CODE_STUB if answer_cell["cell_type"] == "code" else MARKDOWN_STUB
    return replace_blocks(source_text(answer_cell), BEGIN_SOLUTION, END_SOLUTION, stub, answer_cell["id"])


def build_student_notebook(solution: dict, name: str = "solution") -> dict:
    """The student notebook for a solution notebook (a pure function of its input)."""
    validate_solution(solution, name)
    cells = [student_cell(c, f"{name}, cell {i}") for i, c in enumerate(solution["cells"])]
    metadata = copy.deepcopy(solution.get("metadata", {}))
    metadata["gm_course"] = {"generated_from": name, "edit": "edit the solution, then run python -m utils.release"}
    return {**solution, "cells": cells, "metadata": metadata}
