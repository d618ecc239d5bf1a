"""Test-session settings shared by the unit tests and the nbval notebook runs.

Notebook kernels inherit this process's environment, so setting it here puts every notebook in smoke mode
(unless the caller set GM_SMOKE explicitly, e.g. GM_SMOKE=0 for a full-size run), and hides progress bars.
"""

import os
from collections import defaultdict

os.environ.setdefault("GM_SMOKE", "1")
if os.environ["GM_SMOKE"] == "1":
    # Smoke-size models are small, and for small operations a second thread costs more than it brings: lectures
    # 6-9 took 81 s in smoke mode with one thread against 108 s with two (2-core machine, 2026-12-02).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm reads TQDM_* variables as defaults
# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning made PyTorch 5-10x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# No MPLBACKEND here: kernels keep Jupyter's inline backend, so every figure is really drawn (a bad LaTeX label
# fails here rather than on Colab). Unit tests choose Agg themselves.

_notebook_seconds: dict[str, float] = defaultdict(float)
_batches: list[dict] = []  # grading batches' times, as the grading tests record them (tests/graded_homework.py)


def pytest_runtest_logreport(report):
    """Add up setup + call + teardown time of every cell, per notebook (kernel start included); collect the
    grading batches' times. Reports reach this hook in the main process also when pytest-xdist runs the tests."""
    if report.nodeid.split("::")[0].endswith(".ipynb"):
        _notebook_seconds[report.nodeid.split("::")[0]] += report.duration
    if report.when == "call":
        _batches.extend(value for name, value in report.user_properties if name == "grading batch")


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        smoke = os.environ.get("GM_SMOKE")
        terminalreporter.section(f"notebook times (GM_SMOKE={smoke})")
        for name, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
    if _batches:
        terminalreporter.section("grading batches (wall time; each submission's run, the reference run's not listed)")
        for batch in sorted(_batches, key=lambda b: b["homework"]):
            runs = sorted(batch["runs"].items(), key=lambda kv: -kv[1])
            slowest = ", ".join(f"{name} {seconds:.0f}" for name, seconds in runs[:6])
            terminalreporter.write_line(f"{batch['wall']:8.1f} s  {batch['homework']}: {len(runs)} runs, "
                                        f"{sum(s for _, s in runs):.0f} s in all; slowest: {slowest}")
