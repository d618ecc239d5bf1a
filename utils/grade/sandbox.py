"""The sandbox the student's code runs in, and the limits on the whole run (used by the grader's process).

Two layers, both bubblewrap (Debian package ``bubblewrap``):

- **the run** (:func:`run_command`): the grader's pytest + nbval, trusted code, in a network namespace of its own
  (only a loopback, shared with the kernel it starts) and a PID namespace that dies with the grader;
- **the kernel** (:func:`kernel_command`): the student's Python kernel, which nbval starts through a kernelspec
  whose command is this one. It runs as uid/gid 65534 in a user namespace of its own with **no capabilities**
  (so no ``mount``/``umount``/remount, even when the grader is root), cannot create further user namespaces, has
  its own PID, IPC and UTS namespaces, and sees an **allow-list** of the host: an empty read-only root, then the
  system directories, the Python environment, the runtime part of ``utils`` and the dataset folder, all
  read-only, one writable work folder, and a private ``/tmp`` in memory, capped at 512 MiB. Nothing else of the
  host exists inside (no ``/root``, no repository, no other submissions, no earlier reports).

Limits on every process of the run, applied by :mod:`.launcher` before it starts the run: address space
(``RLIMIT_AS``), size of written files (``RLIMIT_FSIZE``), no core dumps, and a process count — a ``pids`` cgroup
when we may create one (as root), else ``RLIMIT_NPROC`` (which Linux does not apply to root). Time: the run is
killed after ``timeout`` seconds; then every process carrying the run's marker in its environment, and every
member of its cgroup, is killed.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

MARKER_VARIABLE = "GM_SANDBOX_RUN"
KERNEL_UID = KERNEL_GID = 65534  # "nobody" inside the kernel's user namespace
COURSE_DIR = "/course"  # inside the kernel: the runtime utils at /course/utils, the work dir at /course/work
WORK_DIR = f"{COURSE_DIR}/work"
TMP_BYTES = 512 * 2**20  # the kernel's /tmp
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The few files of /etc that programs need; the rest (keys, shadow, host config) stays outside.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/hosts", "/etc/mime.types")


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


# ------------------------------------------------------------------------------------------- command lines
def python_dirs() -> list[Path]:
    """The folders the grader's Python needs: its environment, the interpreter it was made from, user site."""
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent}
    user_site = Path(site.getusersitepackages())
    if user_site.is_dir():
        dirs.add(user_site)
    return sorted(d.resolve() for d in dirs if d.exists())


def _system_binds() -> list[str]:
    args = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    return args


def _gpu_binds() -> list[str]:
    """NVIDIA's device files and what CUDA reads of /sys (for --full runs on a GPU machine)."""
    args = []
    for device in sorted(Path("/dev").glob("nvidia*")):
        args += ["--dev-bind", str(device), str(device)]
    for path in ("/sys/bus/pci", "/sys/devices", "/sys/module/nvidia"):
        args += ["--ro-bind-try", path, path]
    return args


@functools.cache
def supports(option: str) -> bool:
    """Whether this bubblewrap knows ``option`` (``--disable-userns`` came with 0.8)."""
    try:
        return option in subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def kernel_command(
    argv: list[str], work: Path, readonly: dict[str, Path], env: dict[str, str], gpu: bool = False
) -> list[str]:
    """``argv`` run as the student's kernel: ``readonly`` maps a path inside to a path outside (files or
    folders, bound read-only); ``work`` appears writable at ``WORK_DIR``; ``env`` is the whole environment;
    ``gpu`` adds NVIDIA's devices."""
    cmd = ["bwrap", "--unshare-user", "--uid", str(KERNEL_UID), "--gid", str(KERNEL_GID), "--cap-drop", "ALL",
           "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
           "--new-session", "--hostname", "grading"]  # fmt: skip
    if supports("--disable-userns"):  # no nested user namespace, where the kernel would get capabilities back
        cmd.append("--disable-userns")
    # /tmp lives in memory: cap it where bubblewrap can (--size came with 0.8), so files there cannot fill the RAM.
    tmp_size = ["--size", str(TMP_BYTES)] if supports("--size") else []
    cmd += ["--tmpfs", "/", *_system_binds(), "--dev", "/dev", "--proc", "/proc", *tmp_size, "--tmpfs", "/tmp"]
    if gpu:
        cmd += _gpu_binds()
    for inside, outside in sorted(readonly.items()):
        cmd += ["--ro-bind", str(outside), inside]
    cmd += ["--bind", str(work), WORK_DIR, "--remount-ro", "/", "--chdir", WORK_DIR, "--clearenv"]
    for key, value in sorted(env.items()):
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]


def run_command(argv: list[str]) -> list[str]:
    """``argv`` (the grader's pytest) in its own network namespace (loopback only) and PID namespace."""
    return ["bwrap", "--dev-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent", "--", *argv]


def launcher_command(argv: list[str], limits: Limits, cgroup: Path | None) -> list[str]:
    """``argv`` started by :mod:`.launcher` under ``limits`` (and inside ``cgroup``, if any)."""
    cmd = [sys.executable, "-m", "utils.grade.launcher", "--file-bytes", str(limits.file_bytes),
           "--processes", str(limits.processes), "--parent", str(os.getpid())]  # fmt: skip
    if limits.memory_bytes is not None:
        cmd += ["--memory-bytes", str(limits.memory_bytes)]
    if cgroup is not None:
        cmd += ["--cgroup", str(cgroup)]
    return [*cmd, "--", *argv]


@functools.cache
def unavailable_reason() -> str | None:
    """None if both layers work on this machine, else why not (what the probe printed)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="gm-probe-") as work:
        readonly = {str(p): p for p in python_dirs()}
        probe = kernel_command([sys.executable, "-c", "import os; os.mkdir('probe')"], Path(work), readonly, {})
        try:
            done = subprocess.run(run_command(probe), capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap failed to start: {err}"
        if done.returncode != 0 or not (Path(work) / "probe").is_dir():
            return f"bubblewrap cannot build the sandbox here: {(done.stderr or done.stdout).strip()[:300]}"
    return None


# ------------------------------------------------------------------------------------------- processes
def pids_cgroup(limit: int) -> Path | None:
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
            try:
                group.rmdir()
            except OSError:
                pass
    return None


def new_marker() -> str:
    """A run's marker: the id of the grader process that starts the run, then a random part. Every process of the
    run carries it in its environment, so the run's leftovers, or all runs of one grader, can be found."""
    return f"{os.getpid()}-{uuid.uuid4().hex}"


def marked_processes(marker: str | None = None, grader: int | None = None) -> list[int]:
    """Process ids whose environment holds ``GM_SANDBOX_RUN=marker``; with ``grader`` instead, those of every run
    that grader process started; with neither, those of any run (other test sessions' included)."""
    if marker is not None:
        needle, exact = f"{MARKER_VARIABLE}={marker}".encode(), True
    else:
        needle, exact = f"{MARKER_VARIABLE}={'' if grader is None else f'{grader}-'}".encode(), False
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v == needle if exact else v.startswith(needle) for v in variables):
            found.append(int(entry.name))
    return found


def kill_marked(marker: str | None = None, grader: int | None = None) -> int:
    """SIGKILL the processes :func:`marked_processes` finds; return how many there were."""
    found = marked_processes(marker, grader)
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(found)


_active_markers: set[str] = set()  # runs of this process still going


def kill_active() -> None:
    """Kill every run this process started and that is still going (on Ctrl-C)."""
    for marker in list(_active_markers):
        kill_marked(marker)


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
    argv: list[str], env: dict[str, str], limits: Limits, cwd: Path, isolated: bool, stdout, marker: str
) -> RunResult:
    """Run ``argv`` (in its own namespaces if ``isolated``) under ``limits``, every process of it marked with
    ``marker``; wait, then kill what is left. Safe to call from several threads: nothing runs between fork and
    exec."""
    env = {**env, MARKER_VARIABLE: marker}
    cgroup = pids_cgroup(limits.processes)
    command = launcher_command(run_command(argv) if isolated else argv, limits, cgroup)
    _active_markers.add(marker)
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
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
        _active_markers.discard(marker)
        if cgroup is not None:
            _empty_cgroup(cgroup)
    return RunResult(process.returncode, timed_out, time.monotonic() - start)
