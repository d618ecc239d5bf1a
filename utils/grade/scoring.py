"""Points and reasons for one submission, decided in the grader's process from the plugin's records.

A graded cell earns its points when it ran without error, its kernel's reply says so, its last report is the
run's finish token (so it ran to its end), and every value the reference reported under a name is matched by
the student's value under that name. Reasons are the grader's own words: which value, how far off. Of the text
that comes from the student's kernel (an exception's type and message) at most a short, printable first line
is kept, and none that quotes the hidden tests (except the instructor's own assert messages).
"""

from __future__ import annotations

import ast

import numpy as np

from ..authoring import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    block_lines,
    hidden_line_numbers,
    source_text,
)
from .assemble import FINISHED
from .records import EXCEPTION, KERNEL_DIED, PASSED, SWALLOWED, TIMEOUT, CellError, CellResult, GradedValue

MESSAGE_CHARS = 120  # of a student's exception message, at most
QUOTE_WINDOW = 16  # a message sharing this many consecutive characters with a secret is withheld


def compare_value(reference: GradedValue, student: GradedValue | None) -> str | None:
    """None if the student's value matches the reference value, else the reason (no expected values in it).

    The comparison and its tolerances come from the reference only.
    """
    name = reference.name
    if student is None:
        return f"{name}: no value was reported (the cell stopped before it)"
    got, expected = student.array(), reference.array()
    if reference.compare == "at_most":
        if got.size != 1 or not np.isfinite(got).all():
            return f"{name}: not a finite number"
        return None if got.item() <= reference.bound else f"{name}: above the required bound"
    if reference.compare == "distribution":
        from scipy.stats import ks_2samp

        if got.size < 2 or not np.isfinite(got).all():
            return f"{name}: not a usable sample"
        pvalue = ks_2samp(got.ravel(), expected.ravel()).pvalue
        return None if pvalue > reference.alpha else f"{name}: samples do not follow the expected law"
    if got.shape != expected.shape:
        return f"{name}: shape {got.shape} differs from the expected shape {expected.shape}"
    if not np.isfinite(got).all() and np.isfinite(expected).all():
        return f"{name}: not finite (NaN or infinity) where finite values are expected"
    if not np.allclose(got, expected, rtol=reference.rtol, atol=reference.atol, equal_nan=False):
        error = np.max(np.abs(got - expected), initial=0.0)
        return f"{name}: values differ from the expected ones (largest difference {error:.3g})"
    return None


def secrets_of(solution: dict) -> str:
    """The text a student must never get back: every hidden-test and solution line, whitespace collapsed."""
    lines = []
    for cell in solution["cells"]:
        text = source_text(cell)
        lines += block_lines(text, BEGIN_HIDDEN, END_HIDDEN) + block_lines(text, BEGIN_SOLUTION, END_SOLUTION)
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def assert_messages(solution: dict) -> set[str]:
    """The string messages of the asserts in the solution's graded cells: written for students, so a report may
    show them even when they stand in a hidden test."""
    messages = set()
    for cell in solution["cells"]:
        if (cell.get("metadata", {}).get("grader") or {}).get("kind") != "graded":
            continue
        try:
            tree = ast.parse(source_text(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str):
                messages.add(node.msg.value)
    return messages


def quotes(message: str, secrets: str) -> bool:
    """True if ``message`` shares ``QUOTE_WINDOW`` consecutive characters with ``secrets``."""
    text = " ".join(message.split())
    return any(text[i : i + QUOTE_WINDOW] in secrets for i in range(max(0, len(text) - QUOTE_WINDOW + 1)))


def student_message(error: CellError, secrets: str, allowed: frozenset[str] = frozenset()) -> str:
    """``Type: first line`` of an exception raised in the student's kernel, made safe to show. ``allowed``:
    messages shown in full whatever they quote (the instructor's own assert messages)."""
    exception = error.exception if error.exception.replace("_", "a").replace(".", "a").isalnum() else "an exception"
    message = error.message[:MESSAGE_CHARS]
    if message in allowed:
        pass
    elif quotes(message, secrets):
        message = "(message withheld: it quotes the grader's tests)"
    return f"{exception}: {message}" if message else exception


def describe(result: CellResult, cell: dict, secrets: str, graded: bool, allowed: frozenset[str] = frozenset()) -> str:
    """Why a cell failed, in words a student can act on."""
    error = result.error or CellError("unknown")
    if error.kind == TIMEOUT:
        text = "exceeded the time limit per cell"
    elif error.kind == KERNEL_DIED:
        text = "the kernel died or stopped responding (os._exit, a crash, memory exhausted, or an endless loop)"
    elif error.kind == SWALLOWED:
        text = "failed without showing an error (a handler installed by the submission may have hidden it)"
    elif error.kind == EXCEPTION:
        text = student_message(error, secrets, allowed)
        lines = source_text(cell).split("\n")
        if graded and error.line is not None:
            if error.line > len(lines):
                text += " (at the grader's last line)"
            elif error.line in hidden_line_numbers(source_text(cell)):
                text += " (in a hidden test)"
            else:  # a visible line of the instructor's graded cell: the student has it too
                text += f" (at line {error.line}: {lines[error.line - 1].strip()[:200]})"
        elif error.line is not None:
            text += f" (at line {error.line})"
    else:
        text = "failed"
    if result.after_timeout:
        text += " (after a cell timed out earlier)"
    return text


def check_graded_cell(
    result: CellResult | None,
    conflict: bool,
    reference: list[GradedValue],
    token: int,
    cell: dict,
    secrets: str,
    allowed: frozenset[str] = frozenset(),
) -> list[str]:
    """The reasons a graded cell loses its points (empty: it earns them)."""
    if conflict:
        return ["conflicting results were reported for this cell"]
    if result is None:
        return ["did not run (the kernel died or the time limit was reached)"]
    if result.outcome != PASSED:
        return [describe(result, cell, secrets, graded=True, allowed=allowed)]
    if not result.values or result.values[-1].name != FINISHED or result.values[-1].values != (float(token),):
        return ["the cell did not run to its end: the grader's last line never reported"]
    student: dict[str, GradedValue | None] = {}
    for value in result.values[:-1]:
        student[value.name] = None if value.name in student else value  # a name reported twice counts as missing
    reasons = [r for ref in reference if (r := compare_value(ref, student.get(ref.name)))]
    if result.malformed_values:
        reasons.append(f"{result.malformed_values} reported value(s) could not be read")
    return reasons
