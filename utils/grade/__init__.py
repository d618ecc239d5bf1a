"""The autograder (instructors only: not part of the student tree). ``python -m utils.grade --help``.

Where each part runs:

- the grader's process: :mod:`.cli` (command line), :mod:`.batch` (the reference run, then every submission,
  one row each whatever happens), :mod:`.assemble` (a submission's raw JSON -> the notebook to run),
  :mod:`.runner` (one notebook under nbval), :mod:`.sandbox` (bubblewrap command lines, limits, cleanup),
  :mod:`.scoring` (values compared with the reference's, points, reasons), :mod:`.reports` (CSV/JSON rows);
- between the grader and the run: :mod:`.launcher` (resource limits, then ``exec``);
- the sandboxed pytest process that drives nbval, outside the kernel: :mod:`.pytest_plugin`;
- the student's kernel: nothing of this package; graded cells call ``utils.graded.report``.

:mod:`.records` holds the typed records that cross these boundaries.
"""

from .batch import Assignment, InstructorError, grade, resolve_assignment
from .cli import main
from .records import Row, Settings

__all__ = ["Assignment", "InstructorError", "Row", "Settings", "grade", "main", "resolve_assignment"]
