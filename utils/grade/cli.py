"""Autograder: grade a folder of submitted notebooks with one command.

    python -m utils.grade hw1 submissions/*.ipynb --out grades.csv --json grades.json --jobs 2

For each submission: take its answer cells (matched by ``grader.id``), put them into the canonical solution
notebook (graded cells and hidden tests come from the solution, never from the student), run that notebook
with nbval, its kernel in a sandbox, under a per-cell and a per-submission time limit, and award a graded
cell's points when it ran to its end without error **and** every value it reported (``utils.graded.report``)
matches the value the canonical solution reported — compared here, outside the student's process.

Rows are written as each submission finishes; ``--resume`` skips the submissions an interrupted run finished.
Smoke mode (``GM_SMOKE=1``) is the default, so training cells run at small size; ``--full`` runs at full size.
Exit status 0 whenever every submission got a row (zero scores included); 2 for the instructor's own errors;
130 when interrupted (the rows done so far are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..authoring import graded_points
from . import sandbox
from .batch import InstructorError, grade, require_sandbox, resolve_assignment
from .records import Settings
from .reports import Reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="hw0..hw3, or the path of a solution notebook")
    parser.add_argument("submissions", nargs="*", type=Path, help="submitted .ipynb files")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV report (default grades.csv)")
    parser.add_argument("--json", type=Path, help="JSON report with the reasons for every lost point")
    parser.add_argument("--resume", action="store_true", help="keep the rows already in the reports; grade the rest")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--cell-timeout", type=float, default=120.0, help="seconds per cell (default 120)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per submission (default 600)")
    parser.add_argument("--full", action="store_true", help="full size instead of smoke mode (use a GPU)")
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without isolating the kernel (unsafe: it can read the solutions); rows say so",
    )
    args = parser.parse_args(argv)
    if not args.submissions:
        print("error: no submission files given", file=sys.stderr)
        return 2
    settings = Settings(args.cell_timeout, args.timeout, args.full, max(1, args.jobs), not args.no_sandbox)
    try:
        require_sandbox(settings)
        graded_ids = list(graded_points(json.loads(resolve_assignment(args.assignment).read_text(encoding="utf-8"))))
        reports = Reports(args.out, args.json, graded_ids, resume=args.resume)
    except (InstructorError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    todo = [p for p in args.submissions if not reports.done(str(p))]
    if len(todo) < len(args.submissions):
        print(f"resuming: {len(args.submissions) - len(todo)} submissions already graded, {len(todo)} to go")

    def finished(row):
        reports.add(row)
        print(f"{row.status:>10}  {row.score:g}/{row.max_score:g}  {row.submission}  {row.note}", flush=True)

    try:
        grade(args.assignment, todo, settings, on_row=finished)
    except InstructorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        sandbox.kill_active()
        print(f"interrupted: {len(reports.rows)} rows kept in {args.out}; run again with --resume", file=sys.stderr)
        return 130
    rows = [reports.rows[str(p)] for p in args.submissions]
    reports.write_all(rows)
    if not settings.sandbox:
        print("WARNING: graded without the sandbox (--no-sandbox); every row says so", file=sys.stderr)
    print(f"{len(rows)} submissions graded; {args.out} written" + (f", {args.json}" if args.json else ""))
    return 0
