"""The CSV and JSON reports, written row by row as submissions finish (grader's process).

Each finished row is appended to the CSV (flushed to disk) and the JSON file is rewritten whole, atomically, so
an interrupted batch keeps every row it finished and both files stay readable. With ``resume`` the rows already
in the reports are kept (except grader errors) and their submissions are not graded again. When the batch ends,
both files are rewritten in the order the submissions were given.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict
from io import StringIO
from pathlib import Path

from .records import Row

FIXED_COLUMNS = ("submission", "status", "score", "max_score")
TRAILING_COLUMNS = ("note", "isolation")
REGRADE_ON_RESUME = ("error",)  # a grader fault is worth another try


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _csv_line(values) -> str:
    buffer = StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


class Reports:
    """The CSV (``csv_path``) and optional JSON (``json_path``) reports of one batch."""

    def __init__(self, csv_path: Path, json_path: Path | None, graded_ids: list[str], resume: bool = False):
        self.csv_path, self.json_path, self.graded_ids = csv_path, json_path, graded_ids
        self.rows: dict[str, Row] = self._previous_rows() if resume else {}
        self.rows = {k: r for k, r in self.rows.items() if r.status not in REGRADE_ON_RESUME}
        self.write_all(list(self.rows.values()))

    @property
    def header(self) -> list[str]:
        return [*FIXED_COLUMNS, *self.graded_ids, *TRAILING_COLUMNS]

    def line(self, row: Row) -> str:
        points = (row.points.get(g, 0) for g in self.graded_ids)
        return _csv_line([row.submission, row.status, row.score, row.max_score, *points, row.note, row.isolation])

    def _previous_rows(self) -> dict[str, Row]:
        """Rows of an earlier run of this batch: from the JSON report (with reasons) if there is one, else the CSV."""
        if self.json_path is not None and self.json_path.is_file():
            return {r["submission"]: Row.from_json(r) for r in json.loads(self.json_path.read_text(encoding="utf-8"))}
        if not self.csv_path.is_file():
            return {}
        with open(self.csv_path, newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
        if records and list(records[0]) != self.header:
            raise ValueError(f"{self.csv_path} has other columns than this assignment's: cannot resume from it")
        return {
            r["submission"]: Row(r["submission"], r["status"], _number(r["score"]), _number(r["max_score"]),
                                 {g: _number(r[g]) for g in self.graded_ids}, note=r["note"], isolation=r["isolation"])
            for r in records
        }  # fmt: skip

    def done(self, submission: str) -> bool:
        return submission in self.rows

    def add(self, row: Row) -> None:
        self.rows[row.submission] = row
        with open(self.csv_path, "a", encoding="utf-8", newline="") as f:
            f.write(self.line(row))
            f.flush()
            os.fsync(f.fileno())
        self._write_json(list(self.rows.values()))

    def write_all(self, rows: list[Row]) -> None:
        _atomic_write(self.csv_path, _csv_line(self.header) + "".join(self.line(r) for r in rows))
        self._write_json(rows)

    def _write_json(self, rows: list[Row]) -> None:
        if self.json_path is not None:
            _atomic_write(self.json_path, json.dumps([asdict(r) for r in rows], indent=1))
