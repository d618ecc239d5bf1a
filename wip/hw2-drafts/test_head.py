"""The autograder on HW2: the solution scores 100, the blank student version 0, correct answers written another way
(torch.distributions, loops, other formulas, other orders of random draws) score 100, and for every answer cell each
of three plausible mistakes loses the points of the question it answers, and only those.

As in HW1 (tests/test_grade_hw1.py): the k-th mutant of every odd-numbered graded question in one notebook, of every
even-numbered one in another; one batch, graded once in smoke mode; each test reads its rows. The training results
(one small graded cell per trained model) depend on the answers of their part by design, so no mutant spares them.
``false_fail_bounds`` adds up the probability that a correct homework loses a point.
"""

import math
from pathlib import Path

import pytest

from tests import hostile
from utils import grade

SOLUTION, STUDENT = hostile.load("hw2")
ANSWERS = [a for a in hostile.answer_ids(SOLUTION) if a != "reflection"]
POINTS = {c["id"]: c["metadata"]["grader"]["points"] for c in SOLUTION["cells"]
          if c["metadata"].get("grader", {}).get("kind") == "graded"}  # fmt: skip
TRAINING_RESULTS = {"q2d", "q3c", "q4e", "q6b", "q7c"}  # a trained model beats a baseline: every answer of its part counts


def graded_cell(answer_id: str) -> str:
    return answer_id.removesuffix("-code")


# answer cell -> three (what the mistake is, text in the solution, replacement). Each must cost its own question and
# no other (the training results excepted).
