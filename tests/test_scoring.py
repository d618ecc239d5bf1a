"""The comparisons and reasons the grader makes between a student's reported value and the reference's."""

import json

import numpy as np
import pytest

from utils.grade.records import CellError, CellResult, GradedValue, MalformedRecord
from utils.grade.scoring import assert_messages, compare_value, quotes, secrets_of, student_message
from utils.graded import encode_value, report


def value(data, compare="close", rtol=1e-5, atol=1e-8, alpha=1e-3, bound=None, name="v"):
    # What report() hands over, built without a kernel.
    record = {"name": name, "compare": compare, "rtol": rtol, "atol": atol, "alpha": alpha, "bound": bound}
    return GradedValue.from_json(record | encode_value(data))


def test_close_accepts_rounding_and_refuses_other_values_and_shapes():
    reference = value([1.0, 2.0, 3.0], rtol=1e-9)
    assert compare_value(reference, value([1.0, 2.0, 3.0 + 1e-12])) is None
    assert "largest difference 0.1" in compare_value(reference, value([1.0, 2.0, 3.1]))
    assert "shape" in compare_value(reference, value([[1.0, 2.0, 3.0]]))
    assert "no value" in compare_value(reference, None)
    assert "not finite" in compare_value(reference, value([1.0, float("nan"), 3.0]))
    assert "not finite" in compare_value(reference, value([float("nan")] * 3))


def test_distribution_tells_a_shifted_sample_apart():
    rng = np.random.default_rng(0)
    reference = value(rng.normal(size=5000), compare="distribution")
    assert compare_value(reference, value(rng.normal(size=5000), compare="distribution")) is None
    shifted = value(rng.normal(0.2, 1.0, size=5000), compare="distribution")
    assert "expected law" in compare_value(reference, shifted)


def test_at_most_checks_the_bound_and_refuses_non_numbers():
    reference = value(0.94, compare="at_most", bound=1.0)  # the reference's own value plays no part
    assert compare_value(reference, value(0.99, compare="at_most", bound=1.0)) is None
    assert "above the required bound" in compare_value(reference, value(1.01, compare="at_most", bound=1.0))
    assert "not a finite number" in compare_value(reference, value(float("nan"), compare="at_most", bound=1.0))
    assert "not a finite number" in compare_value(reference, value([0.5, 0.5], compare="at_most", bound=1.0))


def test_settings_come_from_the_reference_not_the_student():
    reference = value(1.0, compare="at_most", bound=1.0)
    cheating = value(5.0, compare="at_most", bound=10.0)  # a student cannot loosen the bound
    assert "above the required bound" in compare_value(reference, cheating)
    loose = value([1.5], rtol=1.0)  # nor the tolerance
    assert "values differ" in compare_value(value([1.0]), loose)


def test_report_requires_a_bound_exactly_with_at_most():
    with pytest.raises(ValueError):
        report("v", 1.0, compare="at_most")
    with pytest.raises(ValueError):
        report("v", 1.0, bound=1.0)
    with pytest.raises(ValueError):
        report("v", 1.0, compare="roughly")


@pytest.mark.parametrize(
    "record",
    [
        [1, 2],
        {"name": "v", "compare": "close", "shape": [2], "values": [1.0]},  # does not fill the shape
        {"name": "v", "compare": "close", "shape": [1], "values": ["1"]},
        {"name": "v", "compare": "close", "shape": [1], "values": [True]},
        {"name": "v", "compare": "exact", "shape": [1], "values": [1.0]},
        {"name": "", "compare": "close", "shape": [1], "values": [1.0]},
        {"name": "v", "compare": "close", "shape": [-1], "values": []},
        {"name": "v", "compare": "close", "shape": [1], "values": [1.0], "rtol": float("inf")},
    ],
)
def test_malformed_records_are_refused(record):
    with pytest.raises(MalformedRecord):
        GradedValue.from_json(record)


def test_cell_results_round_trip_and_refuse_bad_fields():
    result = CellResult(3, "failed", error=CellError("exception", "ValueError", "bad", 2), values=(value(1.0),))
    assert CellResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    for bad in ({"index": -1, "outcome": "passed"}, {"index": 1, "outcome": "great"},
                {"index": 1, "outcome": "failed", "error": {"kind": "boom"}}):  # fmt: skip
        with pytest.raises(MalformedRecord):
            CellResult.from_json(bad)


SOLUTION = {"cells": [{"cell_type": "code", "metadata": {"grader": {"kind": "graded"}}, "source": (
    "### BEGIN HIDDEN TESTS\nx_h = secret_function(torch.arange(7), weights=3)\n"
    "assert x_h.sum() > 0, 'secret_function(torch.arange(7)) must be positive'\n### END HIDDEN TESTS\n")}]}  # fmt: skip


def test_student_messages_are_short_printable_and_never_quote_the_hidden_tests():
    secrets = secrets_of(SOLUTION)
    assert "secret_function(torch.arange(7)" in secrets
    leak = CellError("exception", "RuntimeError", "x_h = secret_function(torch.arange(7), weights=3)")
    assert "withheld" in student_message(leak, secrets) and "secret_function" not in student_message(leak, secrets)
    assert quotes("...secret_function(torch...", secrets) and not quotes("shapes differ: (3,) vs (4,)", secrets)
    long = CellError("exception", "ValueError", "y" * 1000)
    assert len(student_message(long, secrets)) < 150
    odd = CellError("exception", "<script>", "fine")
    assert student_message(odd, secrets) == "an exception: fine"
    # The instructor's own assert messages are for students: shown even though they stand in a hidden test.
    allowed = frozenset(assert_messages(SOLUTION))
    hint = CellError("exception", "AssertionError", "secret_function(torch.arange(7)) must be positive")
    assert "withheld" in student_message(hint, secrets)
    assert student_message(hint, secrets, allowed) == "AssertionError: " + hint.message
