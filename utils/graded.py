"""What graded cells use, in the student's kernel, to hand values to the autograder (runtime: students get it).

A graded cell's hidden tests call :func:`report` on the *outputs* of the student's code (on fixed inputs). The
value travels out of the kernel as display data; the autograder (``python -m utils.grade``), in its own process,
compares it with the value the canonical solution reported for the same name. Asserts inside the kernel give the
student feedback, but the points depend on this comparison, which code running in the student's kernel cannot
reach: stripping asserts, hooks or objects whose ``__eq__`` always says True change nothing there.

Reported values must not depend on random state that a student's code may consume: graded cells seed their own
``torch.Generator``.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np

MIME_TYPE = "application/vnd.gm-course.graded-value+json"
MAX_ELEMENTS = 1_000_000
COMPARISONS = ("close", "distribution", "at_most")


def encode_value(value) -> dict:
    """A number, array or tensor as ``{"shape": [...], "values": [...]}`` (float64, row-major)."""
    import torch

    if torch.is_tensor(value):
        value = value.detach().cpu().double().numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.size > MAX_ELEMENTS:
        raise ValueError(f"a reported value may hold at most {MAX_ELEMENTS:,} numbers, got {array.size:,}")
    # json writes nan/inf as NaN/Infinity, which json.loads reads back.
    return {"shape": list(array.shape), "values": array.ravel().tolist()}


def report(
    name: str,
    value,
    *,
    compare: str = "close",
    rtol: float = 1e-5,
    atol: float = 1e-8,
    alpha: float = 1e-3,
    bound: float | None = None,
):
    """Hand ``value`` (a number, array or tensor) to the autograder under ``name``.

    ``compare="close"``: the student's value must have the reference's shape and satisfy
    ``|student - reference| <= atol + rtol * |reference|`` elementwise. ``compare="distribution"``: both are
    samples (flattened) that a two-sample Kolmogorov–Smirnov test must not tell apart at level ``alpha``.
    ``compare="at_most"``: a finite number at most ``bound`` (for results of training, which differ from run to
    run). Unlike the other two, such a self-reported figure is only as trustworthy as the kernel that computed it.
    """
    if compare not in COMPARISONS:
        raise ValueError(f"compare must be one of {COMPARISONS}")
    if (compare == "at_most") != (bound is not None):
        raise ValueError("bound goes with compare='at_most', and only with it")
    record = {"name": str(name), "compare": compare, "rtol": rtol, "atol": atol, "alpha": alpha, "bound": bound}
    record |= encode_value(value)
    try:
        from IPython.display import display
    except ImportError:  # plain Python: nothing to hand over
        return
    summary = f"[graded value {name!r}: shape {tuple(record['shape'])}]"
    display({MIME_TYPE: json.dumps(record), "text/plain": summary}, raw=True)


def _switched_off(*args, **kwargs):
    raise RuntimeError("this library function is switched off in this test: the question asks you to write it")


@contextlib.contextmanager
def switched_off(*functions):
    """Within the block, calling any of ``functions`` (plain Python functions) raises ``RuntimeError``.

    Hidden tests use it where a question asks for a formula that a library also computes (POT's Bures-Wasserstein
    distance for a Fréchet distance, say): an answer that calls the library scores nothing. It swaps each
    function's code object, so names bound earlier (``from ot.gaussian import bures_wasserstein_distance``) are
    switched off too, and restores them on the way out.
    """
    saved = [(function, function.__code__) for function in functions]
    try:
        for function, _ in saved:
            function.__code__ = _switched_off.__code__
        yield
    finally:
        for function, code in saved:
            function.__code__ = code
