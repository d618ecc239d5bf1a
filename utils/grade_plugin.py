"""pytest plugin loaded by the autograder into the sandboxed nbval run (``-p utils.grade_plugin``).

For every notebook cell nbval executes it writes one JSON line to the file descriptor named by
``GM_GRADE_RESULTS_FD``: the cell's index and grader metadata, the outcome, the first line of its error, and the
values that graded cells reported (see :mod:`utils.grading`). Full outputs never leave: a 50 MB print stays here.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from .grading import MIME_TYPE

MAX_RECORD_BYTES = 32 * 2**20  # per cell
_results = None


def pytest_configure(config):
    global _results
    fd = os.environ.get("GM_GRADE_RESULTS_FD")
    if fd is not None:
        _results = os.fdopen(int(fd), "w", buffering=1)


def pytest_collection_finish(session):
    """nbval has read the notebook: delete it, so the student's kernel cannot read the hidden tests from disk."""
    if _results is None:
        return
    for path in {str(getattr(item, "path", getattr(item, "fspath", ""))) for item in session.items}:
        if path.endswith(".ipynb") and os.path.exists(path):
            os.remove(path)


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")


def _error_cell_line(item) -> int | None:
    """1-based line of the failing statement in the executed cell (its outermost traceback frame)."""
    for output in getattr(item, "test_outputs", None) or []:
        if output.get("output_type") == "error":
            match = CELL_FRAME.search(ANSI_ESCAPE.sub("", "\n".join(output.get("traceback", []))))
            return int(match[1]) if match else None
    return None


def _error_line(item, call) -> str:
    for output in getattr(item, "test_outputs", None) or []:
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"[:500]
    if call.excinfo is not None:
        message = str(call.excinfo.value).strip().splitlines()
        return (message[0] if message else call.excinfo.typename)[:500]
    return ""


def _records(item) -> list:
    records, size = [], 0
    for output in getattr(item, "test_outputs", None) or []:
        data = output.get("data") if output.get("output_type") in ("display_data", "execute_result") else None
        if not isinstance(data, dict) or MIME_TYPE not in data:
            continue
        text = data[MIME_TYPE] if isinstance(data[MIME_TYPE], str) else json.dumps(data[MIME_TYPE])
        size += len(text)
        if size > MAX_RECORD_BYTES:
            break
        try:
            records.append(json.loads(text))
        except ValueError:
            continue
    return records


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if _results is None or cell is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        line = {
            "index": item.cell_num,
            "grader": cell.get("metadata", {}).get("grader"),
            "outcome": report.outcome,  # passed (also an unexpected pass), failed or skipped
            "xfail": hasattr(report, "wasxfail"),
            "error": "" if report.outcome == "passed" else _error_line(item, call),
            "line": None if report.outcome == "passed" else _error_cell_line(item),
            "seconds": round(report.duration, 3),
            "records": _records(item) if report.when == "call" else [],
        }
        _results.write(json.dumps(line) + "\n")
