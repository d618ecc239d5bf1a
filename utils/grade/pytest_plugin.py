"""pytest plugin of the grader's sandboxed run (``-p utils.grade.pytest_plugin``), loaded into the pytest process
that drives nbval — outside the student's kernel, which it sees only through the kernel's messages.

For every cell nbval executes it appends one :class:`~.records.CellResult` as a JSON line to the file named by
``GM_GRADE_RESULTS``: the cell's index, the outcome, why it failed (decided from nbval's state and the kernel's
``execute_reply``, not from message text), and the values its ``report(...)`` calls displayed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from queue import Empty

import pytest

# nbval reads notebooks with nbformat, whose validator imports jsonschema, which imports rfc3987_syntax when it is
# installed (a Jupyter server dependency) and compiles that package's IRI grammar: 1.8 s of every run, for string
# formats no notebook schema uses. This plugin is loaded before nbval, so marking the module absent skips it.
sys.modules.setdefault("rfc3987_syntax", None)

from ..graded import MIME_TYPE
from .records import (
    EXCEPTION,
    FAILED,
    KERNEL_DIED,
    PASSED,
    SWALLOWED,
    TIMEOUT,
    UNKNOWN,
    CellError,
    CellResult,
    GradedValue,
    printable,
)  # fmt: skip

MAX_VALUE_BYTES = 32 * 2**20  # per cell
MAX_TEXT = 300
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")
_results = None


def pytest_configure(config):
    global _results
    path = os.environ.get("GM_GRADE_RESULTS")
    if path is None:
        return
    _results = open(path, "a", encoding="utf-8", buffering=1)
    _record_reply_status()


def _record_reply_status():
    """Keep the status of each cell's ``execute_reply`` ("ok" or "error") on the kernel object — nbval ignores it,
    but a kernel whose exceptions a student's handler swallows still replies "error" — and, when no reply came in
    time, whether the kernel was still alive."""
    from nbval.kernel import RunningKernel

    original = RunningKernel.get_message

    def get_message(self, stream, timeout=None):
        try:
            message = original(self, stream, timeout)
        except Empty:
            if stream == "shell":  # nbval waited in vain for the reply: was the kernel still there?
                self.gm_alive_at_timeout = self.is_alive()
            raise
        if stream == "shell" and message.get("msg_type") == "execute_reply":
            self.gm_reply_status = message.get("content", {}).get("status")
        return message

    RunningKernel.get_message = get_message


def pytest_collection_finish(session):
    """nbval has read the notebook: delete it (what matters when grading runs without the kernel sandbox)."""
    if _results is None:
        return
    for path in {str(getattr(item, "path", "")) for item in session.items}:
        if path.endswith(".ipynb") and os.path.exists(path):
            os.remove(path)


def _error_output(item) -> dict | None:
    return next((o for o in getattr(item, "test_outputs", None) or [] if o.get("output_type") == "error"), None)


def _cell_line(output: dict) -> int | None:
    """1-based line of the failing statement in the executed cell (its outermost traceback frame)."""
    traceback = output.get("traceback")
    if not isinstance(traceback, list):
        return None
    match = CELL_FRAME.search(ANSI_ESCAPE.sub("", "\n".join(str(t) for t in traceback)))
    return int(match[1]) if match and 0 < int(match[1]) < 10**6 else None


def _error(item, call, reply_status) -> CellError:
    kernel = getattr(item.parent, "kernel", None)
    output = _error_output(item)
    timed_out = bool(getattr(item.parent, "timed_out", False))  # stays up once any cell has timed out
    if output is not None:
        if timed_out and output.get("ename") == "KeyboardInterrupt":  # nbval interrupted the cell
            return CellError(TIMEOUT)
        first = str(output.get("evalue", "")).strip().split("\n")[0]
        return CellError(EXCEPTION, printable(str(output.get("ename", "")), 100), printable(first, MAX_TEXT),
                         _cell_line(output))  # fmt: skip
    if getattr(kernel, "gm_alive_at_timeout", True) is False:
        return CellError(KERNEL_DIED)  # no reply because there was no kernel any more
    if timed_out and not getattr(item, "gm_timed_out_before", False):
        return CellError(TIMEOUT)
    if kernel is None or not kernel.is_alive():
        return CellError(KERNEL_DIED)
    if reply_status == "error":
        return CellError(SWALLOWED)
    return CellError(UNKNOWN, printable(call.excinfo.typename if call.excinfo else "", 100))


def _values(item) -> tuple[list[GradedValue], int]:
    values, malformed, size = [], 0, 0
    for output in getattr(item, "test_outputs", None) or []:
        data = output.get("data") if output.get("output_type") in ("display_data", "execute_result") else None
        if not isinstance(data, dict) or MIME_TYPE not in data:
            continue
        text = data[MIME_TYPE] if isinstance(data[MIME_TYPE], str) else json.dumps(data[MIME_TYPE])
        size += len(text)
        if size > MAX_VALUE_BYTES:
            malformed += 1
            break
        try:
            values.append(GradedValue.from_json(json.loads(text)))
        except (ValueError, RecursionError):  # MalformedRecord, bad JSON, integers past Python's digit limit
            malformed += 1
    return values, malformed


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    if kernel is not None:
        kernel.gm_reply_status, kernel.gm_alive_at_timeout = None, True
    item.gm_timed_out_before = bool(getattr(getattr(item, "parent", None), "timed_out", False))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _results is None or getattr(item, "cell", None) is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        kernel = getattr(item.parent, "kernel", None)
        reply_status = getattr(kernel, "gm_reply_status", None)
        passed = report.outcome == "passed" and report.when == "call" and reply_status != "error"
        values, malformed = _values(item) if report.when == "call" else ([], 0)
        result = CellResult(
            index=item.cell_num,
            outcome=PASSED if passed else (report.outcome if report.outcome != "passed" else FAILED),
            after_timeout=hasattr(report, "wasxfail"),
            error=None if passed else _error(item, call, reply_status),
            values=tuple(values),
            malformed_values=malformed,
            seconds=round(report.duration, 3),
        )
        _results.write(json.dumps(result.to_json()) + "\n")
