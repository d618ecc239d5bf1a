"""Run an untrusted command (a student's notebook under nbval) with limits, and leave nothing behind.

- Isolation: bubblewrap (Debian package ``bubblewrap``) when it works here: read-only root, private ``/tmp``
  with the work dir mounted in it, no network, its own PID namespace and ``/proc``, and instructor paths (the
  solutions, the git history, other submissions) hidden behind empty mounts. Where bubblewrap is missing (a
  laptop, Colab) the command runs unisolated and :attr:`RunResult.isolation` says so.
- Limits on every process of the run: address space (``RLIMIT_AS``), size of written files (``RLIMIT_FSIZE``),
  no core dumps, and a process count — a ``pids`` cgroup when we may create one (as root), else
  ``RLIMIT_NPROC`` (which Linux does not apply to root).
- Time: the whole run is killed after ``timeout`` seconds. Afterwards every process that carries the run's
  marker in its environment (Jupyter kernels start their own session, so a process group is not enough) and
  every member of its cgroup is killed.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SANDBOX_WORKDIR = "/tmp/grading"  # where the work dir appears inside bubblewrap
MARKER_VARIABLE = "GM_SANDBOX_RUN"


@dataclass
class Limits:
    timeout: float = 600.0  # seconds for the whole run
    memory_bytes: int | None = 6 * 2**30  # address space per process; None to disable (CUDA needs it off)
    file_bytes: int = 256 * 2**20  # largest file a process may write
    processes: int = 256  # processes and threads of the run


@dataclass
class RunResult:
    returncode: int | None
    timed_out: bool
    seconds: float
    isolation: str  # what protected the machine, in words, for the report


@functools.cache
def bubblewrap_works() -> bool:
    """True if ``bwrap`` is installed and can create the namespaces we use on this machine."""
    if shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--unshare-net", "--unshare-pid", "--die-with-parent", "true"]  # fmt: skip
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _under(path: Path, folder: str) -> bool:
    return path == Path(folder) or Path(folder) in path.parents


def bubblewrap_command(argv: list[str], workdir: Path, expose: list[Path], hide: list[Path]) -> list[str]:
    """``argv`` wrapped in bubblewrap: read-only root, ``workdir`` writable at ``SANDBOX_WORKDIR``, ``expose``
    paths visible read-only even under ``/tmp``, ``hide`` paths replaced by empty mounts."""
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
           "--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"]  # fmt: skip
    for path in expose:
        if path.exists() and _under(path.resolve(), "/tmp"):
            cmd += ["--ro-bind", str(path.resolve()), str(path.resolve())]
    for path in hide:
        path = path.resolve()
        if path.is_dir():
            cmd += ["--tmpfs", str(path)]
        elif path.exists():
            cmd += ["--ro-bind", "/dev/null", str(path)]
    cmd += ["--bind", str(workdir), SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR, "--", *argv]
    return cmd


def _pids_cgroup(limit: int) -> Path | None:
    """A new cgroup (v1 or v2) capped at ``limit`` processes, or None where we may not create one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            candidates.append(Path("/sys/fs/cgroup/pids") / path.lstrip("/"))
        elif controllers == "":
            candidates.append(Path("/sys/fs/cgroup") / path.lstrip("/"))
    for parent in candidates:
        group = parent / f"gm-sandbox-{uuid.uuid4().hex[:12]}"
        try:
            group.mkdir()
            (group / "pids.max").write_text(str(limit))
            return group
        except OSError:
            if group.exists():
                try:
                    group.rmdir()
                except OSError:
                    pass
    return None


def _set_limits(limits: Limits, cgroup: Path | None) -> None:
    """Runs in the child between fork and exec: apply the limits to it and everything it starts."""
    if cgroup is not None:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))
    if limits.memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cgroup is None and os.geteuid() != 0:
        # RLIMIT_NPROC counts all of this user's processes: allow the current ones plus the run's budget.
        current = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == os.geteuid())
        resource.setrlimit(resource.RLIMIT_NPROC, (current + limits.processes, current + limits.processes))


def kill_marked(marker: str | None) -> int:
    """SIGKILL every process whose environment holds ``GM_SANDBOX_RUN=marker`` (any marker if None); return
    how many there were."""
    needle = f"{MARKER_VARIABLE}={marker or ''}".encode()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
            if any(v == needle or (marker is None and v.startswith(needle)) for v in variables):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed


def kill_marked_any() -> int:
    """Kill leftovers of every sandboxed run (there should be none); return how many were found."""
    return kill_marked(None)


def _empty_cgroup(group: Path) -> None:
    for _ in range(50):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
    try:
        group.rmdir()
    except OSError:
        pass


def run(
    argv: list[str],
    workdir: Path,
    env: dict[str, str],
    limits: Limits,
    expose: list[Path] = (),
    hide: list[Path] = (),
    pass_fds: tuple[int, ...] = (),
    stdout=subprocess.DEVNULL,
) -> RunResult:
    """Run ``argv`` in ``workdir`` (bubblewrap if it works, else unisolated) under ``limits``; wait, kill, clean."""
    marker = uuid.uuid4().hex
    env = {**env, MARKER_VARIABLE: marker}
    cgroup = _pids_cgroup(limits.processes)
    if bubblewrap_works():
        argv = bubblewrap_command(argv, workdir, list(expose), list(hide))
        isolation = "bubblewrap (read-only root, private /tmp, no network)"
        cwd = None
    else:
        isolation = "no sandbox (bubblewrap unavailable): resource limits only"
        cwd = workdir
    if cgroup is not None:
        isolation += f", pids cgroup ({limits.processes})"
    elif os.geteuid() == 0:
        isolation += ", no process-count limit (running as root without a pids cgroup)"
    start = time.monotonic()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT,
        pass_fds=pass_fds, start_new_session=True, preexec_fn=lambda: _set_limits(limits, cgroup),
    )  # fmt: skip
    timed_out = False
    try:
        process.wait(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
        kill_marked(marker)
        if cgroup is not None:
            _empty_cgroup(cgroup)
    return RunResult(process.returncode, timed_out, time.monotonic() - start, isolation)
