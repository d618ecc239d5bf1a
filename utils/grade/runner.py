"""Run one assembled notebook under nbval, its kernel in the sandbox, and collect what each cell did (grader's
process).

Layout of a run's scratch folder (outside the kernel's view unless said otherwise)::

    run/submission.ipynb    the notebook pytest reads (hidden tests included); deleted once collected
    run/results.jsonl       one CellResult per executed cell, written by the pytest plugin
    run/pytest.log          pytest's own output (for instructors debugging the reference run)
    jupyter/kernels/...     the kernelspec whose command starts the kernel inside the sandbox
    runtime/                pytest's TMPDIR, where the kernel's connection file goes (read-only in the kernel)
    work/                   the kernel's only writable folder, at /course/work inside
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..colab import dump_notebook
from ..config import REPO_ROOT, data_root
from . import sandbox
from .records import CellResult, MalformedRecord, Settings

KERNEL_NAME = "gm-grading-sandbox"
MAX_RESULTS_BYTES = 256 * 2**20
ISOLATED = ("bubblewrap: kernel as an unprivileged user without capabilities, read-only allow-listed files, "
            "no network")  # fmt: skip
UNISOLATED = "NONE (--no-sandbox): resource limits only; the kernel could read and write what the grader can"


@dataclass
class Execution:
    cells: dict[int, CellResult]  # code-cell index -> what the plugin saw
    conflicts: set[int]  # indices reported more than once (never by the plugin alone)
    timed_out: bool
    seconds: float
    log_tail: str  # pytest's output: for the instructor's errors only, never put into a student's row


def runtime_binds() -> dict[str, Path]:
    """What the kernel may import from this repository: the runtime ``utils``, at ``/course/utils``."""
    from ..student_tree import RUNTIME_UTILS

    return {f"{sandbox.COURSE_DIR}/utils/{name}": REPO_ROOT / "utils" / name for name in RUNTIME_UTILS}


def kernel_environment(settings: Settings, home: str, cache: str, marker: str) -> dict[str, str]:
    threads = str(max(1, (os.cpu_count() or 1) // settings.jobs))
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": home,
        "IPYTHONDIR": f"{home}/.ipython",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        "GM_SMOKE": "0" if settings.full else "1",
        "GM_DATA": str(data_root()),
        "GM_CACHE": cache,
        "TQDM_DISABLE": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OMP_WAIT_POLICY": "PASSIVE",  # parallel jobs share the cores: idle threads must not spin
        sandbox.MARKER_VARIABLE: marker,
    }


def kernelspec(settings: Settings, scratch: Path, marker: str) -> dict:
    """The kernelspec nbval starts the student's kernel with."""
    launch = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if not settings.sandbox:
        work = scratch / "work"
        env = kernel_environment(settings, str(work / "home"), str(work / "cache"), marker)
        return {"argv": launch, "env": {**env, "PYTHONPATH": str(REPO_ROOT)}, "display_name": "grading (unsafe)",
                "language": "python"}  # fmt: skip
    home, cache = f"{sandbox.WORK_DIR}/home", f"{sandbox.WORK_DIR}/cache"
    env = {**kernel_environment(settings, home, cache, marker), "PYTHONPATH": sandbox.COURSE_DIR}
    readonly = {str(p): p for p in sandbox.python_dirs()} | runtime_binds()
    readonly[str(scratch / "runtime")] = scratch / "runtime"
    if data_root().is_dir():
        readonly[str(data_root())] = data_root()
    argv = sandbox.kernel_command(launch, scratch / "work", readonly, env, gpu=settings.full)
    # A signal would reach bubblewrap, not the kernel: interrupt with a message, which ipykernel turns into SIGINT.
    return {"argv": argv, "display_name": "grading sandbox", "language": "python", "interrupt_mode": "message"}


def execute(notebook: dict, settings: Settings, cache_from: Path | None = None, cache_to: Path | None = None
            ) -> Execution:  # fmt: skip
    """Run ``notebook`` under nbval with the student's kernel sandboxed; collect the plugin's per-cell results.

    The kernel's cache (``GM_CACHE``: converted datasets, the trained feature network) starts as a copy of
    ``cache_from`` if given, and is copied to ``cache_to`` after the run if given: the reference run fills it once,
    and every submission gets its own copy instead of redoing that work.
    """
    with tempfile.TemporaryDirectory(prefix="gm-grade-") as scratch:
        scratch = Path(scratch)
        for sub in ("run", "runtime", "home", f"jupyter/kernels/{KERNEL_NAME}", "work/home"):
            (scratch / sub).mkdir(parents=True)
        if cache_from is not None:
            shutil.copytree(cache_from, scratch / "work" / "cache", symlinks=True)
        else:
            (scratch / "work" / "cache").mkdir()
        marker = sandbox.new_marker()
        spec = scratch / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"
        spec.write_text(json.dumps(kernelspec(settings, scratch, marker)), encoding="utf-8")
        notebook_path = scratch / "run" / "submission.ipynb"
        notebook_path.write_text(dump_notebook(notebook), encoding="utf-8")
        results, log = scratch / "run" / "results.jsonl", scratch / "run" / "pytest.log"
        results.touch()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(scratch / "home"),
            "JUPYTER_PATH": str(scratch / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
            "TMPDIR": str(scratch / "runtime"),  # jupyter_client writes the connection file with tempfile
            "JUPYTER_CONFIG_DIR": str(scratch / "home" / ".jupyter"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "GM_GRADE_RESULTS": str(results),
        }
        argv = [
            sys.executable, "-m", "pytest", "-p", "utils.grade.pytest_plugin", "-p", "no:cacheprovider",
            "--nbval-lax", "--nbval-kernel-name", KERNEL_NAME, f"--nbval-cell-timeout={settings.cell_timeout:g}",
            "-q", "-o", "addopts=", "--rootdir", str(scratch / "run"), str(notebook_path),
        ]  # fmt: skip
        limits = sandbox.Limits(timeout=settings.timeout, memory_bytes=None if settings.full else 6 * 2**30)
        with open(log, "wb") as log_file:
            run = sandbox.run(argv, env, limits, scratch / "run", settings.sandbox, log_file, marker)
        cells, conflicts = read_results(results)
        tail = log.read_bytes()[-4000:].decode("utf-8", "replace")
        if cache_to is not None:
            shutil.copytree(scratch / "work" / "cache", cache_to, symlinks=True, dirs_exist_ok=True)
    return Execution(cells, conflicts, run.timed_out, run.seconds, tail)


def read_results(path: Path) -> tuple[dict[int, CellResult], set[int]]:
    """Parse the plugin's JSON lines; a cell reported twice is a conflict (the plugin writes one line a cell)."""
    cells: dict[int, CellResult] = {}
    conflicts: set[int] = set()
    with open(path, "rb") as f:
        text = f.read(MAX_RESULTS_BYTES).decode("utf-8", "replace")
    for line in text.splitlines():
        try:
            result = CellResult.from_json(json.loads(line))
        except (ValueError, MalformedRecord, RecursionError):
            continue
        if result.index in cells:
            conflicts.add(result.index)
        cells[result.index] = result
    return cells, conflicts
