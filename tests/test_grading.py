"""The comparisons the autograder makes between a student's reported value and the reference's."""

import numpy as np
import pytest

from utils.grading import compare_record, encode_value, report


def record(value, compare="close", rtol=1e-5, atol=1e-8, alpha=1e-3, bound=None):
    # What report() hands over, built without a kernel.
    return {"name": "v", "compare": compare, "rtol": rtol, "atol": atol, "alpha": alpha, "bound": bound,
            **encode_value(value)}  # fmt: skip


def test_close_accepts_rounding_and_refuses_other_values_and_shapes():
    reference = record([1.0, 2.0, 3.0], rtol=1e-9)
    assert compare_record(reference, record([1.0, 2.0, 3.0 + 1e-12])) is None
    assert "largest difference 0.1" in compare_record(reference, record([1.0, 2.0, 3.1]))
    assert "shape" in compare_record(reference, record([[1.0, 2.0, 3.0]]))
    assert "no value" in compare_record(reference, None)


def test_distribution_tells_a_shifted_sample_apart():
    rng = np.random.default_rng(0)
    reference = record(rng.normal(size=5000), compare="distribution")
    assert compare_record(reference, record(rng.normal(size=5000), compare="distribution")) is None
    shifted = record(rng.normal(0.2, 1.0, size=5000), compare="distribution")
    assert "expected law" in compare_record(reference, shifted)


def test_at_most_checks_the_bound_and_refuses_non_numbers():
    reference = record(0.94, compare="at_most", bound=1.0)  # the reference's own value plays no part
    assert compare_record(reference, record(0.99, compare="at_most", bound=1.0)) is None
    assert "above the required bound" in compare_record(reference, record(1.01, compare="at_most", bound=1.0))
    assert "not a finite number" in compare_record(reference, record(float("nan"), compare="at_most", bound=1.0))
    assert "not a finite number" in compare_record(reference, record([0.5, 0.5], compare="at_most", bound=1.0))


def test_settings_come_from_the_reference_not_the_student():
    reference = record(1.0, compare="at_most", bound=1.0)
    cheating = record(5.0, compare="at_most", bound=10.0)  # a student cannot loosen the bound
    assert "above the required bound" in compare_record(reference, cheating)


def test_report_requires_a_bound_exactly_with_at_most():
    with pytest.raises(ValueError):
        report("v", 1.0, compare="at_most")
    with pytest.raises(ValueError):
        report("v", 1.0, bound=1.0)
    with pytest.raises(ValueError):
        report("v", 1.0, compare="roughly")
