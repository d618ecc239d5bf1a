"""Apply the run's resource limits to this process, then become the run (``python -m utils.grade.launcher``).

Run by the grader in place of a ``preexec_fn``, which is unsafe when submissions are graded from several threads.
Everything the run starts — the sandboxed pytest, the student's kernel, whatever that forks — inherits the limits.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None) -> None:
    """Be killed when the grader (process ``parent``) dies, so that a killed batch leaves no run behind; the
    setting is kept across exec. If the grader died before we got here, stop now."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        sys.exit(1)


def apply_limits(memory_bytes: int | None, file_bytes: int, processes: int, cgroup: Path | None) -> None:
    if cgroup is not None:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cgroup is None and os.geteuid() != 0:
        # RLIMIT_NPROC counts all of this user's processes: allow the current ones plus the run's budget.
        current = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == os.geteuid())
        resource.setrlimit(resource.RLIMIT_NPROC, (current + processes, current + processes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m utils.grade.launcher")
    parser.add_argument("--memory-bytes", type=int)
    parser.add_argument("--file-bytes", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--cgroup", type=Path)
    parser.add_argument("--parent", type=int, help="the grader's process id")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    die_with_parent(args.parent)
    apply_limits(args.memory_bytes, args.file_bytes, args.processes, args.cgroup)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
