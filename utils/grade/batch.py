"""Grade a batch of submissions against one assignment (the grader's process).

The reference run comes first: the canonical solution, assembled like a submission, must pass every cell and
report, in each graded cell, the values student runs are compared with. Then each submission is read,
assembled, run and scored; whatever goes wrong with one of them becomes its own row, handed to ``on_row`` as
soon as it is done.
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ..authoring import ANSWER, GRADED, AuthoringError, graded_points, grader_entry, validate_solution
from ..config import REPO_ROOT
from . import sandbox
from .assemble import FINISHED, UnreadableSubmission, assemble, find_answers, read_submission, solution_answers
from .records import PASSED, TIMEOUT, GradedValue, Row, Settings
from .runner import ISOLATED, UNISOLATED, execute
from .scoring import assert_messages, check_graded_cell, describe, secrets_of


class InstructorError(Exception):
    """A problem with the assignment, the machine or the command line, not with a submission."""


def resolve_assignment(name: str) -> Path:
    """``hw1`` -> ``solutions/hw1.ipynb``; a path to a solution notebook is taken as it is."""
    path = Path(name)
    if path.suffix != ".ipynb":
        path = REPO_ROOT / "solutions" / f"{name}.ipynb"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted((REPO_ROOT / "solutions").glob("hw*.ipynb")))
        raise InstructorError(f"unknown assignment {name!r}: no {path} (known: {known})")
    return path.resolve()


def code_cells(notebook: dict) -> list[dict]:
    """The code cells, in the order nbval numbers them."""
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


class Assignment:
    """A solution notebook, checked, with the values its reference run reported in each graded cell."""

    def __init__(self, name: str, settings: Settings):
        self.path = resolve_assignment(name)
        self.solution = json.loads(self.path.read_text(encoding="utf-8"))
        try:
            validate_solution(self.solution, self.path.name)
        except AuthoringError as err:
            raise InstructorError(str(err)) from err
        self.points = graded_points(self.solution)
        if not self.points:
            raise InstructorError(f"{self.path} has no graded cells")
        self.cells = code_cells(self.solution)
        self.secrets = secrets_of(self.solution)
        self.messages = frozenset(assert_messages(self.solution))
        self.settings = settings
        self.isolation = ISOLATED if settings.sandbox else UNISOLATED
        # What the reference run leaves in its kernel's cache (datasets converted, the feature network trained),
        # copied into every submission's: written by the canonical solution only, so safe to hand out.
        self._cache = tempfile.TemporaryDirectory(prefix="gm-grade-cache-")
        self.cache = Path(self._cache.name)
        self.reference = self._reference_values()

    def _reference_values(self) -> dict[str, list[GradedValue]]:
        assembled = assemble(self.solution, solution_answers(self.solution))
        execution = execute(assembled.notebook, self.settings, cache_to=self.cache)
        failures = [f"cell {self.cells[i]['id']}: {describe(r, self.cells[i], '', graded=False)}"
                    for i, r in execution.cells.items() if r.outcome != PASSED]  # fmt: skip
        if execution.timed_out or failures or len(execution.cells) != len(self.cells):
            detail = "; ".join(failures) or execution.log_tail[-1500:]
            raise InstructorError(f"the solution notebook does not run cleanly under the grader: {detail}")
        reference = {}
        for index, cell in enumerate(self.cells):
            if (grader_entry(cell) or {}).get("kind") != GRADED:
                continue
            result = execution.cells[index]
            reasons = check_graded_cell(result, False, [], assembled.finish_token, cell, "")
            values = list(result.values[:-1])
            names = [v.name for v in values]
            if reasons or not values:
                raise InstructorError(f"graded cell {cell['id']} reports no value of its own: {reasons}")
            if len(names) != len(set(names)) or FINISHED in names:
                raise InstructorError(f"graded cell {cell['id']} reports the same name twice")
            reference[cell["id"]] = values
        return reference

    def blank_row(self, submission: str, status: str, note: str) -> Row:
        zero = dict.fromkeys(self.points, 0)
        return Row(submission, status, 0, sum(self.points.values()), zero, note=note, isolation=self.isolation)

    def grade_one(self, path: Path) -> Row:
        """Grade one submission; never raises for anything the submission contains."""
        try:
            submission = read_submission(path)
        except UnreadableSubmission as err:
            return self.blank_row(str(path), "unreadable", str(err))
        try:
            return self._grade(path, submission)
        except Exception as err:  # noqa: BLE001 - a row for every submission, whatever happened
            # The details go to the instructor's terminal; the row, which a student may see, names the type only.
            print(f"grader error on {path}:\n{traceback.format_exc()}", file=sys.stderr)
            return self.blank_row(str(path), "error", f"grader error: {type(err).__name__}")

    def _grade(self, path: Path, submission: dict) -> Row:
        answers = find_answers(submission, self.solution)
        assembled = assemble(self.solution, answers)
        execution = execute(assembled.notebook, self.settings, cache_from=self.cache)
        points, reasons, notes = {}, {}, list(answers.notes)
        for index, cell in enumerate(self.cells):
            kind = (grader_entry(cell) or {}).get("kind")
            result = execution.cells.get(index)
            if kind == ANSWER and result is not None and result.outcome != PASSED:
                notes.append(f"answer cell {cell['id']}: {describe(result, cell, self.secrets, graded=False)}")
            if kind == GRADED:
                why = check_graded_cell(result, index in execution.conflicts, self.reference[cell["id"]],
                                        assembled.finish_token, cell, self.secrets, self.messages)  # fmt: skip
                points[cell["id"]] = 0 if why else self.points[cell["id"]]
                if why:
                    reasons[cell["id"]] = why
        status = "graded"
        if execution.timed_out:
            status = "timeout"
            notes.append(f"stopped after the {self.settings.timeout:g} s limit per submission")
        elif any(r.error is not None and r.error.kind == TIMEOUT for r in execution.cells.values()):
            notes.append(f"a cell exceeded the {self.settings.cell_timeout:g} s cell limit")
        if len(execution.cells) < len(self.cells) and not execution.timed_out:
            notes.append("the kernel stopped before the last cell")
        return Row(str(path), status, sum(points.values()), sum(self.points.values()), points, reasons,
                   "; ".join(notes), round(execution.seconds, 2), self.isolation)  # fmt: skip


def require_sandbox(settings: Settings) -> None:
    """Raise :class:`InstructorError` if the sandbox is asked for and does not work here."""
    if settings.sandbox and (reason := sandbox.unavailable_reason()):
        raise InstructorError(
            f"refusing to grade without the sandbox: {reason}. The kernel would see the solutions and every file "
            "of this machine. Fix that, or pass --no-sandbox to grade anyway (every row is then marked)."
        )


def grade(
    assignment: str, submissions: list[Path], settings: Settings, on_row: Callable[[Row], None] | None = None
) -> list[Row]:
    """Grade ``submissions`` (rows in their order); ``on_row`` sees each row as soon as it is done."""
    require_sandbox(settings)
    task = Assignment(assignment, settings)
    rows: dict[int, Row] = {}
    with ThreadPoolExecutor(max_workers=settings.jobs) as pool:  # each job's work is a subprocess
        futures = {pool.submit(task.grade_one, path): i for i, path in enumerate(submissions)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                row = future.result()
            except Exception as err:  # noqa: BLE001 - grade_one does not raise; if it ever does, still a row
                row = task.blank_row(str(submissions[index]), "error", f"grader error: {type(err).__name__}")
            rows[index] = row
            if on_row is not None:
                on_row(row)
    return [rows[i] for i in range(len(submissions))]
