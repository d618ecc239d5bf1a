"""Build the student version of each homework from its solution notebook (the single source).

    python -m utils.release            # regenerate homeworks/hwN.ipynb from every solutions/hwN.ipynb
    python -m utils.release hw1        # only hw1
    python -m utils.release --check    # change nothing; exit 1 and name the stale student versions

Authoring format (see DESIGN.md §4), in the solution notebook:

- answer cell: metadata ``{"grader": {"id": "q2a-code", "kind": "answer"}}``; the solution sits between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines and becomes ``# YOUR CODE HERE`` +
  ``raise NotImplementedError()`` at the same indentation (``YOUR ANSWER HERE`` in a markdown cell);
- graded cell: metadata ``{"grader": {"id": "q2a", "kind": "graded", "points": 3}}``; lines between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are dropped;
- the cell ``id`` of these cells equals ``grader.id``.

The build is a pure function of the solution: same input, byte-identical output. Outputs and execution
counts are never written.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from .colab import dump_notebook
from .config import REPO_ROOT

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
GRADER_KINDS = ("answer", "graded")


class AuthoringError(ValueError):
    """The solution notebook breaks the authoring format."""


def source_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


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


def validate_solution(notebook: dict, name: str = "solution") -> None:
    """Check the authoring rules; raise :class:`AuthoringError` naming the first broken one."""
    seen: set[str] = set()
    for index, cell in enumerate(notebook["cells"]):
        grader = cell.get("metadata", {}).get("grader")
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
        if kind == "answer" and (not has_solution or has_hidden):
            raise AuthoringError(f"{where}: an answer cell holds a solution block and no hidden tests")
        if kind == "graded":
            points = grader.get("points")
            if cell["cell_type"] != "code" or has_solution:
                raise AuthoringError(f"{where}: a graded cell is code without a solution block")
            if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
                raise AuthoringError(f"{where}: a graded cell needs positive points, got {points!r}")


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


def build_student_notebook(solution: dict, name: str = "solution") -> dict:
    """The student notebook for a solution notebook (a pure function of its input)."""
    validate_solution(solution, name)
    cells = [student_cell(c, f"{name}, cell {i}") for i, c in enumerate(solution["cells"])]
    metadata = copy.deepcopy(solution.get("metadata", {}))
    metadata["gm_course"] = {"generated_from": name, "edit": "edit the solution, then run python -m utils.release"}
    return {**solution, "cells": cells, "metadata": metadata}


def student_path(solution_path: Path, root: Path = REPO_ROOT) -> Path:
    return root / "homeworks" / solution_path.name


def release(names: list[str] | None = None, root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Regenerate student versions (or, with ``check``, only compare); return the stale/rewritten paths."""
    solutions = sorted((root / "solutions").glob("hw*.ipynb"))
    if names:
        wanted = {n.removesuffix(".ipynb") for n in names}
        unknown = wanted - {p.stem for p in solutions}
        if unknown:
            raise SystemExit(f"no solution notebook for: {', '.join(sorted(unknown))}")
        solutions = [p for p in solutions if p.stem in wanted]
    changed = []
    for path in solutions:
        relative = path.relative_to(root).as_posix()
        student = dump_notebook(build_student_notebook(json.loads(path.read_text(encoding="utf-8")), relative))
        target = student_path(path, root)
        if not target.exists() or target.read_text(encoding="utf-8") != student:
            changed.append(target)
            if not check:
                target.parent.mkdir(exist_ok=True)
                target.write_text(student, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("homeworks", nargs="*", help="e.g. hw1 (default: every solutions/hw*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    try:
        changed = release(args.homeworks, check=args.check)
    except AuthoringError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(REPO_ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
