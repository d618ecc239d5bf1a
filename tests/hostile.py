"""Submissions for testing the autograder, built from the HW0 fixture: correct, blank, subtly wrong (mutants),
tampering, and malformed or hostile ones. Each builder writes one .ipynb and returns its path."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

from utils import authoring
from utils.config import REPO_ROOT

MARKERS = (authoring.BEGIN_SOLUTION, authoring.END_SOLUTION)


def load(homework: str) -> tuple[dict, dict]:
    """(solution, student version) of a homework, as JSON."""
    return tuple(
        json.loads((REPO_ROOT / folder / f"{homework}.ipynb").read_text()) for folder in ("solutions", "homeworks")
    )


def answer_ids(solution: dict) -> list[str]:
    return [c["id"] for c in solution["cells"] if c["metadata"].get("grader", {}).get("kind") == "answer"]


def solved(answer_id: str, solution: dict | None = None) -> str:
    """The reference answer as a student would hand it in (marker lines removed)."""
    cell = next(c for c in (solution or SOLUTION)["cells"] if c["id"] == answer_id)
    return "\n".join(line for line in authoring.source_text(cell).split("\n") if line.strip() not in MARKERS)


SOLUTION, STUDENT = load("hw0")
ANSWER_IDS = answer_ids(SOLUTION)
POINTS = {c["id"]: c["metadata"]["grader"]["points"] for c in SOLUTION["cells"]
          if c["metadata"].get("grader", {}).get("kind") == "graded"}  # fmt: skip


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


# Plausible mistakes: right shapes and types, wrong values. name -> (answer cell, graded cell it must cost,
# [(text of the solution, its replacement), ...]). At least three per answer cell.
MUTANTS = {
    "q1-missing-factor-2": ("q1-code", "q1", [("- 2 * X @ Y.T", "- X @ Y.T")]),
    "q1-no-clamp": ("q1-code", "q1", [(".clamp_min(0)  # (N, M)", "  # (N, M)")]),
    "q1-norms-over-wrong-axis": (
        "q1-code", "q1", [("(Y**2).sum(dim=1, keepdim=True).T", "(Y**2).sum(dim=0, keepdim=True)")]
    ),
    "q2-forward-difference": (
        "q2-code", "q2",
        [("flat_x[i] = original - eps\n            f_minus", "flat_x[i] = original\n            f_minus")],
    ),
    "q2-forward-difference-denominator": ("q2-code", "q2", [("/ (2 * eps)", "/ (2 * eps) * (1 + 1e-4)")]),
    "q2-autograd-changes-its-input": (
        "q2-code", "q2", [("x = x.detach().clone().requires_grad_(True)", "x.requires_grad_(True)")]
    ),
    "q2-coordinate-not-restored": ("q2-code", "q2", [("            flat_x[i] = original\n", "")]),
    "q2-ignores-eps": ("q2-code", "q2", [("flat_x[i] = original + eps", "flat_x[i] = original + 1e-6"),
                                        ("flat_x[i] = original - eps", "flat_x[i] = original - 1e-6"),
                                        ("/ (2 * eps)", "/ (2 * 1e-6)")]),
    "q3-l2-without-half": ("q3-code", "q3", [("0.5 * l2 * (w**2).sum()", "l2 * (w**2).sum()")]),
    "q3-loss-after-step": (
        "q3-code", "q3",
        [("        losses.append(loss.item())\n        grad_w", "        grad_w"),
         ("            b -= lr * grad_b\n",
          "            b -= lr * grad_b\n        losses.append(logistic_loss(w, b, X, y, l2).item())\n")],
    ),
    "q3-sum-not-mean": ("q3-code", "q3", [("(F.softplus(z) - y * z).mean()", "(F.softplus(z) - y * z).sum()")]),
    "q3-unstable-softplus": ("q3-code", "q3", [("F.softplus(z)", "torch.log(1 + torch.exp(z))")]),
    "q3-one-step-short": ("q3-code", "q3", [("for _ in range(num_steps):", "for _ in range(num_steps - 1):")]),
}  # fmt: skip

# Correct answers written differently from the solution: each must score full marks.
VARIANTS = {
    "q1-broadcast-differences": (
        "q1-code",
        code("""
        def pairwise_sq_dists(X, Y):
            return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    """),
    ),
    "q2-backward-and-index-loop": (
        "q2-code",
        code("""
        def autograd_grad(f, x):
            leaf = x.detach().clone()
            leaf.requires_grad = True
            f(leaf).backward()
            return leaf.grad

        def finite_difference_grad(f, x, eps=1e-6):
            grad = torch.empty_like(x)
            with torch.no_grad():
                for index in torch.cartesian_prod(*[torch.arange(n) for n in x.shape]).reshape(-1, x.dim()):
                    step = torch.zeros_like(x)
                    step[tuple(index)] = eps
                    grad[tuple(index)] = (f(x + step) - f(x - step)) / (2 * eps)
            return grad
    """),
    ),
    "q3-bce-and-backward": (
        "q3-code",
        code("""
        def logistic_loss(w, b, X, y, l2):
            return F.binary_cross_entropy_with_logits(X @ w + b, y) + l2 / 2 * w.dot(w)

        def fit_logistic_regression(X, y, l2, lr, num_steps):
            w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
            b = torch.zeros((), dtype=X.dtype, requires_grad=True)
            losses = []
            for step in range(num_steps):
                loss = logistic_loss(w, b, X, y, l2)
                loss.backward()
                losses.append(float(loss))
                with torch.no_grad():
                    for parameter in (w, b):
                        parameter -= lr * parameter.grad
                        parameter.grad = None
            return w.detach(), b.detach(), losses
    """),
    ),
}


def unanswered(answer_id: str) -> str:
    """The answer cell as the student version has it (the stub)."""
    return authoring.source_text(next(c for c in STUDENT["cells"] if c["id"] == answer_id))


def mutated(name: str, answers: dict[str, str] | None = None, mutants: dict | None = None) -> dict[str, str]:
    """Correct answers (or ``answers``) with mutant ``name`` of ``mutants`` (HW0's by default) applied to its
    answer cell."""
    answer_id, _, edits = (mutants or MUTANTS)[name]
    answers = dict(answers or {a: solved(a) for a in ANSWER_IDS})
    for old, new in edits:
        assert old in answers[answer_id], f"mutant {name} does not apply"
        answers[answer_id] = answers[answer_id].replace(old, new, 1)
    return answers


def mutant_packs(mutants: dict) -> dict[str, list[str]]:
    """Mutants of different questions that can share one submission: the k-th mutant of every odd-numbered
    graded question in one pack, of every even-numbered one in another. ``{pack name: [mutant names]}``."""
    questions = list(dict.fromkeys(graded for _, graded, _ in mutants.values()))
    by_question = {q: [n for n, (_, graded, _) in mutants.items() if graded == q] for q in questions}
    packs = {}
    for parity in (0, 1):
        group = questions[parity::2]
        for k in range(max((len(by_question[q]) for q in group), default=0)):
            names = [by_question[q][k] for q in group if k < len(by_question[q])]
            packs[f"pack-{'odd' if parity == 0 else 'even'}-{k}"] = names
    return packs


def packed(names: list[str], base_answers: dict[str, str] | None = None, mutants: dict | None = None) -> dict[str, str]:
    """Answers with every mutant in ``names`` applied (each to its own answer cell)."""
    answers = base_answers
    for name in names:
        answers = mutated(name, answers, mutants)
    return answers


def notebook_with(answers: dict[str, str], base: dict = STUDENT) -> dict:
    """The student version with the given answer sources filled in."""
    nb = copy.deepcopy(base)
    for cell in nb["cells"]:
        if cell["id"] in answers:
            cell["source"] = answers[cell["id"]]
    return nb


def write(path: Path, notebook) -> Path:
    path.write_text(notebook if isinstance(notebook, str) else json.dumps(notebook), encoding="utf-8")
    return path


# Tampering that a student might put at the top of an answer cell, each with the q1 mutant below it.
TAMPERING = {
    "strip-asserts": code("""
        import ast
        class _StripAsserts(ast.NodeTransformer):
            def visit_Assert(self, node):
                return ast.Pass()
        get_ipython().ast_transformers.append(_StripAsserts())
    """),
    "pre-run-hook": code("""
        import torch as _torch
        def _always_close(*args, **kwargs):
            return True
        def _patch(info):
            _torch.allclose = _always_close
            _torch.equal = _always_close
        get_ipython().events.register("pre_run_cell", _patch)
        get_ipython().set_custom_exc((Exception,), lambda shell, etype, value, tb, tb_offset=None: None)
    """),
    "rewrite-graded-cells": code("""
        def _blank_graded(lines):
            return ["pass\\n"] if lines and lines[0].startswith("# Graded") else lines
        get_ipython().input_transformers_post.append(_blank_graded)
    """),
    "always-equal-object": code("""
        class _AlwaysEqual:
            shape = None
            def __eq__(self, other):
                return True
            def __getattr__(self, name):
                return lambda *a, **k: self
            def __array__(self, dtype=None, copy=None):
                import numpy
                return numpy.zeros((50, 40))
        import torch as _torch
        _torch.allclose = lambda a, b, **k: a == b
    """),
    "nbval-markers": "# NBVAL_SKIP\n# NBVAL_RAISES_EXCEPTION\n",
}


def tampered(kind: str) -> dict:
    answers = mutated("q1-missing-factor-2")
    answers["q1-code"] = TAMPERING[kind] + answers["q1-code"]
    if kind == "always-equal-object":
        answers["q1-code"] += "\n    return _AlwaysEqual()\n"  # unreachable line kept harmless
        answers["q1-code"] = answers["q1-code"].replace("    return (sq_norms_x", "    return _AlwaysEqual()  #")
    nb = notebook_with(answers)
    if kind == "nbval-markers":
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["metadata"]["tags"] = ["nbval-skip", "raises-exception"]
                cell["source"] = "# NBVAL_SKIP\n# NBVAL_RAISES_EXCEPTION\n" + authoring.source_text(cell)
    return nb


def graded_cell_edited() -> dict:
    nb = notebook_with(mutated("q1-missing-factor-2"))
    for cell in nb["cells"]:
        if cell["id"] == "q1":
            cell["source"] = "print('all good')\n"
    return nb


def graded_cell_deleted() -> dict:
    nb = notebook_with(mutated("q1-missing-factor-2"))
    nb["cells"] = [c for c in nb["cells"] if c["id"] != "q1"]
    return nb


def colab_nbformat_40() -> dict:
    """Correct answers saved the way Colab does: nbformat 4.0, no cell ids, no custom cell metadata."""
    nb = notebook_with({a: solved(a) for a in ANSWER_IDS})
    nb["nbformat_minor"] = 0
    for cell in nb["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {}
    return nb


def duplicated_answer() -> dict:
    """q1's answer cell twice: a wrong copy first, the right one after."""
    nb = notebook_with({a: solved(a) for a in ANSWER_IDS})
    index = next(i for i, c in enumerate(nb["cells"]) if c["id"] == "q1-code")
    wrong = copy.deepcopy(nb["cells"][index])
    wrong["source"] = mutated("q1-missing-factor-2")["q1-code"]
    nb["cells"].insert(index, wrong)
    return nb


def missing_answer() -> dict:
    nb = notebook_with({a: solved(a) for a in ANSWER_IDS})
    nb["cells"] = [c for c in nb["cells"] if c["id"] != "q2-code"]
    return nb


def with_q1_prefix(prefix: str, answer: str = "q1-code") -> dict:
    """Correct answers, with ``prefix`` run at the top of one answer cell."""
    answers = {a: solved(a) for a in ANSWER_IDS}
    answers[answer] = prefix + answers[answer]
    return notebook_with(answers)


def with_q1_suffix(suffix: str) -> dict:
    answers = {a: solved(a) for a in ANSWER_IDS}
    answers["q1-code"] = answers["q1-code"] + "\n" + suffix
    return notebook_with(answers)


INFINITE_LOOP = code("""
    def pairwise_sq_dists(X, Y):
        while True:
            pass
""")
OS_EXIT = "import os\nos._exit(3)\n"
ALLOCATE_2GB = "import torch as _torch\n_big = _torch.ones(2**31, dtype=_torch.uint8)  # 2 GiB, touched\n"
MEMORY_BOMB = "import torch as _torch\n_hoard = [_torch.ones(2**30, dtype=_torch.uint8) for _ in range(64)]  # 64 GiB\n"
PRINT_50MB = "print('x' * 50_000_000)\n"
FILL_TMP = code("""
    _written = 0
    try:
        for _i in range(100):
            with open(f"/tmp/fill{_i}", "wb") as _f:
                _f.write(b"x" * 100 * 2**20)
            _written += 100
    except OSError as _err:
        raise RuntimeError(f"tmp full after {_written} MiB")
""")
FORK_LOOP = code("""
    import os as _os, time as _time
    for _ in range(100_000):
        try:
            _pid = _os.fork()
        except OSError:
            break
        if _pid == 0:
            _time.sleep(600)
            _os._exit(0)
""")


def file_attack(targets: list[Path], write_to: Path) -> str:
    """Delete ``targets`` and write ``write_to``, swallowing errors, then report what happened by raising."""
    return (
        code(f"""
        import os as _os
        _outcome = []
        for _path in {[str(t) for t in targets]!r}:
            try:
                _os.remove(_path)
                _outcome.append("deleted " + _path)
            except OSError as _err:
                _outcome.append(type(_err).__name__)
        try:
            open({str(write_to)!r}, "w").write("pwned")
            _outcome.append("wrote")
        except OSError as _err:
            _outcome.append(type(_err).__name__)
    """)
        + "raise RuntimeError('file attack: ' + ', '.join(_outcome))\n"
    )


def solution_hunt() -> str:
    """Search the places the solution or its values could be; raise with what was found."""
    return (
        code(f"""
        import glob as _glob, os as _os
        _found = []
        _places = [{str(REPO_ROOT / "solutions")!r}, {str(REPO_ROOT / ".git")!r}, "/tmp", _os.getcwd(),
                   _os.path.expanduser("~"), {str(REPO_ROOT)!r}]
        for _place in _places:
            for _path in _glob.glob(_os.path.join(_place, "**", "*"), recursive=True)[:20000]:
                if _os.path.isfile(_path) and _os.path.getsize(_path) < 5_000_000:
                    try:
                        _text = open(_path, errors="ignore").read()
                    except OSError:
                        continue
                    # Signatures of the solution's answer and of its hidden tests, split so that no file
                    # of the repository (this one included) holds them literally.
                    if ("sq_norms_y - 2 * X @ Y" + ".T).clamp_min(0)") in _text or ("manual_" + "seed(1234)") in _text:
                        _found.append(_path)
    """)
        + "raise RuntimeError('solution hunt found: ' + (', '.join(sorted(set(_found))) or 'nothing'))\n"
    )


# ----------------------------------------------------------------------------- attacks on the sandbox (as root)
def escape_attempts(root_secret: Path) -> str:
    """Run as the student's kernel: unmount every mount (the old sandbox hid the solutions behind empty mounts),
    remount ``/`` read-write, write into the course code, read the solutions and a file under ``/root``; raise
    with a short account (counts and error names only)."""
    return (
        code(f"""
        import ctypes as _ctypes, errno as _errno, os as _os, subprocess as _subprocess
        _libc = _ctypes.CDLL(None, use_errno=True)
        _mounts = [line.split()[1] for line in open("/proc/self/mounts")]
        _unmounted = sum(_libc.umount2(m.encode(), 2) == 0 for m in reversed(_mounts))
        _unmounted += _subprocess.run(["umount", "-a"], capture_output=True).returncode == 0
        _MS_REMOUNT, _MS_BIND = 32, 4096
        _remounted = sum(_libc.mount(b"none", p.encode(), None, _MS_REMOUNT | f, None) == 0
                         for p in ("/", "/course/utils/config.py", "/course") for f in (0, _MS_BIND))
        _outcome = [f"umount {{_unmounted}}", f"remount {{_remounted}}"]
        for _label, _path in [("solutions", {str(REPO_ROOT / "solutions" / "hw0.ipynb")!r}),
                              ("root", {str(root_secret)!r}), ("shadow", "/etc/shadow")]:
            try:
                open(_path).read()
                _outcome.append("READ " + _label)
            except OSError as _err:
                _outcome.append(_label + " " + _errno.errorcode.get(_err.errno, "?"))
        for _label, _path in [("course", "/course/utils/config.py"),
                              ("repo", {str(REPO_ROOT / "utils" / "grade" / "pytest_plugin.py")!r})]:
            try:
                open(_path, "a").write("# pwned")
                _outcome.append("WROTE " + _label)
            except OSError as _err:
                _outcome.append(_label + " " + _errno.errorcode.get(_err.errno, "?"))
        _outcome.append("uid %d" % _os.getuid())
    """)
        + "raise RuntimeError('escape: ' + ', '.join(_outcome))\n"
    )


SWALLOW_EXCEPTIONS = code("""
    get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
""")

REPORT_HUGE_INTEGER = code("""
    from IPython.display import display as _display
    def _huge(info):
        _display({"application/vnd.gm-course.graded-value+json": '{"name": "x", "values": [' + "9" * 5000 + ']}',
                  "text/plain": "huge"}, raw=True)
    get_ipython().events.register("pre_run_cell", _huge)
""")


def with_huge_integer() -> str:
    """Correct answers, with a 5,000-digit integer in the notebook's metadata (as JSON text)."""
    nb = notebook_with({a: solved(a) for a in ANSWER_IDS})
    nb["metadata"]["huge"] = 0
    return json.dumps(nb).replace('"huge": 0', '"huge": ' + "1" * 5000)


def truncated() -> str:
    """Correct answers, the file cut off halfway (an interrupted download)."""
    text = json.dumps(notebook_with({a: solved(a) for a in ANSWER_IDS}))
    return text[: len(text) // 2]


# A kernel that keeps the source of every cell it runs (IPython hooks see it, hidden tests included), then tries
# to carry the hidden tests out through the text of an exception.
KEEP_CELL_SOURCES = code("""
    _seen_sources = []
    get_ipython().events.register("pre_run_cell", lambda info: _seen_sources.append(info.raw_cell))
""")
RAISE_HIDDEN_TESTS = code("""
    _hidden = [s.split("### BEGIN HIDDEN TESTS")[1] for s in _seen_sources if "### BEGIN HIDDEN TESTS" in s]
    raise RuntimeError(" ".join(_hidden[0].split())[:2000])
""")


def exfiltration() -> dict:
    """Correct answers, except that q2-code raises the hidden tests of q1 that it saw run."""
    answers = {a: solved(a) for a in ANSWER_IDS}
    answers["q1-code"] = KEEP_CELL_SOURCES + answers["q1-code"]
    answers["q2-code"] = RAISE_HIDDEN_TESTS + answers["q2-code"]
    return notebook_with(answers)


def hidden_lines(solution: dict = SOLUTION, shortest: int = 16) -> list[str]:
    """Every stripped line of every hidden-test block of ``solution`` that is at least ``shortest`` long."""
    lines = []
    for cell in solution["cells"]:
        text = authoring.source_text(cell)
        lines += authoring.block_lines(text, authoring.BEGIN_HIDDEN, authoring.END_HIDDEN)
    return [line.strip() for line in lines if len(line.strip()) >= shortest]
