"""Build the student version of each homework from its solution notebook (the single source), and export the
student tree.

    python -m utils.release                       # regenerate homeworks/hwN.ipynb from every solutions/hwN.ipynb
    python -m utils.release hw1                   # only hw1
    python -m utils.release --check               # change nothing; exit 1 and name the stale student versions
    python -m utils.release --export DIR hw0 hw1  # write the student tree, with hw0 and hw1, into DIR

The authoring format (markers, ``grader`` metadata) is described and checked in :mod:`utils.authoring`; what the
student tree holds, and when an export refuses to run, in :mod:`utils.student_tree`.

The build is a pure function of the solution: same input, byte-identical output. Outputs and execution
counts are never written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .authoring import AuthoringError
from .config import REPO_ROOT
from .student_tree import ExportError, export, student_notebook_text


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
        student = student_notebook_text(path, root)
        target = student_path(path, root)
        if not target.exists() or target.read_text(encoding="utf-8") != student:
            changed.append(target)
            if not check:
                target.parent.mkdir(exist_ok=True)
                target.write_text(student, encoding="utf-8")
    return changed


def export_command(target: Path, homeworks: list[str]) -> int:
    """``--export``: write the student tree and say what was written."""
    written = export(target, homeworks)
    for relative in written:
        print(f"wrote: {target / relative}")
    if not homeworks:
        print("note: no homework named, so the export holds none (name the released ones, e.g. hw0 hw1)")
    print(f"exported {len(written)} files to {target}; review, commit and push it as the student repository")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.release", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "homeworks", nargs="*", help="e.g. hw1 (default: every solutions/hw*.ipynb; with --export: none)"
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    parser.add_argument(
        "--export",
        metavar="DIR",
        type=Path,
        help="write the student tree into DIR (new, empty, or a previous export), with the homeworks named",
    )
    args = parser.parse_args(argv)
    if args.check and args.export:
        parser.error("--check and --export do not go together")
    try:
        if args.export:
            return export_command(args.export, args.homeworks)
        changed = release(args.homeworks, check=args.check)
    except (AuthoringError, ExportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(REPO_ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
