"""Typed records of what crosses each boundary of the autograder.

- :class:`GradedValue`: one ``report(...)`` of a graded cell, as the sandboxed pytest read it from the kernel's
  display data. Built from student-controlled JSON: :meth:`GradedValue.from_json` checks every field.
- :class:`CellError` and :class:`CellResult`: what the pytest plugin (:mod:`.pytest_plugin`) saw of one cell,
  one JSON line each, read back by the grader (:mod:`.runner`).
- :class:`Settings`: the command line's options, from :mod:`.cli` to the rest.
- :class:`Row`: the grade of one submission, as it goes into the CSV and JSON reports (:mod:`.reports`).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from ..graded import COMPARISONS

# How a cell can end. "passed" includes a pass after an earlier timeout (nbval's XPASS).
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
OUTCOMES = (PASSED, FAILED, SKIPPED)
# Why a cell failed, decided in the pytest process from nbval's state, never from message text.
EXCEPTION, TIMEOUT, KERNEL_DIED, SWALLOWED, UNKNOWN = "exception", "timeout", "kernel died", "swallowed", "unknown"
ERROR_KINDS = (EXCEPTION, TIMEOUT, KERNEL_DIED, SWALLOWED, UNKNOWN)

MAX_NAME_CHARS = 200
_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class MalformedRecord(ValueError):
    """A record that does not have the fields and types it must have."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise MalformedRecord(what)


def printable(text: str, limit: int) -> str:
    """``text`` as one line of printable ASCII, at most ``limit`` characters."""
    return " ".join(_PRINTABLE.sub(" ", text).split())[:limit]


@dataclass(frozen=True)
class GradedValue:
    """A value a graded cell reported: ``report(name, value, compare=..., ...)`` (see :mod:`utils.graded`).

    ``values`` holds the array's numbers in row-major order (float64), ``shape`` its shape.
    """

    name: str
    compare: str
    shape: tuple[int, ...]
    values: tuple[float, ...]
    rtol: float = 1e-5
    atol: float = 1e-8
    alpha: float = 1e-3
    bound: float | None = None

    @classmethod
    def from_json(cls, data) -> GradedValue:
        _require(isinstance(data, dict), "not an object")
        name, compare, shape, values = (data.get(k) for k in ("name", "compare", "shape", "values"))
        _require(isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS, "malformed name")
        _require(compare in COMPARISONS, "unknown comparison")
        _require(isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape), "malformed shape")
        _require(isinstance(values, list) and all(type(v) in (int, float) for v in values), "malformed values")
        _require(len(values) == math.prod(shape), "values do not fill the shape")
        numbers = {}
        for key in ("rtol", "atol", "alpha"):
            number = data.get(key, getattr(cls, key))
            _require(type(number) in (int, float) and math.isfinite(number), f"malformed {key}")
            numbers[key] = float(number)
        bound = data.get("bound")
        _require(bound is None or (type(bound) in (int, float) and math.isfinite(bound)), "malformed bound")
        return cls(name, compare, tuple(shape), tuple(float(v) for v in values), bound=bound, **numbers)

    def array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64).reshape(self.shape)


@dataclass(frozen=True)
class CellError:
    """Why a cell failed. ``exception`` and ``message`` come from the student's kernel: sanitized, short, and
    never shown when they quote the hidden tests. ``line`` is the 1-based line of the cell where it raised."""

    kind: str
    exception: str = ""
    message: str = ""
    line: int | None = None

    @classmethod
    def from_json(cls, data) -> CellError:
        _require(isinstance(data, dict) and data.get("kind") in ERROR_KINDS, "malformed error")
        line = data.get("line")
        _require(line is None or (type(line) is int and line > 0), "malformed line")
        exception, message = data.get("exception", ""), data.get("message", "")
        _require(isinstance(exception, str) and isinstance(message, str), "malformed error text")
        return cls(data["kind"], exception, message, line)


@dataclass(frozen=True)
class CellResult:
    """One executed cell, as the pytest plugin saw it.

    ``index`` counts code cells from 0 in the assembled notebook; ``after_timeout`` is nbval's xfail mark for
    cells that ran after an earlier one timed out; ``values`` are the cell's reports in order.
    """

    index: int
    outcome: str
    after_timeout: bool = False
    error: CellError | None = None
    values: tuple[GradedValue, ...] = ()
    malformed_values: int = 0
    seconds: float = 0.0

    @classmethod
    def from_json(cls, data) -> CellResult:
        _require(isinstance(data, dict), "not an object")
        index, outcome = data.get("index"), data.get("outcome")
        _require(type(index) is int and index >= 0, "malformed index")
        _require(outcome in OUTCOMES, "malformed outcome")
        error = None if data.get("error") is None else CellError.from_json(data["error"])
        values = data.get("values", [])
        _require(isinstance(values, list), "malformed values")
        malformed = data.get("malformed_values", 0)
        _require(type(malformed) is int and malformed >= 0, "malformed count")
        seconds = data.get("seconds", 0.0)
        _require(type(seconds) in (int, float), "malformed seconds")
        return cls(index, outcome, bool(data.get("after_timeout")), error,
                   tuple(GradedValue.from_json(v) for v in values), malformed, float(seconds))  # fmt: skip

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Settings:
    """How the grader runs each submission (the command line's options)."""

    cell_timeout: float = 120.0  # seconds per cell
    timeout: float = 600.0  # seconds per submission
    full: bool = False  # full size instead of smoke mode
    jobs: int = 1  # submissions graded at once
    sandbox: bool = True  # False only with --no-sandbox: the kernel then sees everything the grader sees


@dataclass
class Row:
    """The grade of one submission. ``status``: graded | unreadable | timeout | error."""

    submission: str
    status: str
    score: float
    max_score: float
    points: dict[str, float]
    reasons: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    isolation: str = ""

    @classmethod
    def from_json(cls, data: dict) -> Row:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
