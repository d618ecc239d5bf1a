"""The autograder on HW1: the solution scores 100, the blank student version 0, and for every answer cell a subtly
wrong answer (right shapes and types, wrong values) loses the points of the question it answers.

One batch, graded once in smoke mode (a few minutes on two cores); each test reads its rows.
"""

from pathlib import Path

import pytest

from tests import hostile
from utils import grade

SOLUTION, STUDENT = hostile.load("hw1")
ANSWERS = [a for a in hostile.answer_ids(SOLUTION) if a != "reflection"]

# answer cell -> (graded cell that must lose its points, text in the solution, subtly wrong replacement)
MUTANTS = {
    "q1a-code": ("q1a", "-torch.log1p(-u) / rate", "-torch.log1p(-u) * rate"),
    "q1b-code": ("q1b", "torch.cumsum(probs, dim=0)", "torch.cumsum(probs, dim=0) - probs"),
    "q1c-code": ("q1c", "mean + z @ L.T", "mean + z @ L"),
    "q1d-code": ("q1d", "return log_p_x - log_y", "return log_p_x"),
    "q1e-code": ("q1e", "x[u <= f(x) / M]", "x[u <= f(x)]"),  # right samples, wrong acceptance rate
    "q2a-code": ("q2a", "2 * torch.log(torch.diagonal", "torch.log(torch.diagonal"),
    "q2b-code": ("q2b", "torch.exp(ell - log_px)", "torch.softmax(ell, dim=0)"),
    "q2c-code": ("q2c", "/ Nk[:, None, None]", "/ N"),
    "q2d-code": ("q2d", "(q * ell - entropy_terms).sum()", "(q * ell).sum()"),
    "q2e-code": ("q2e", "for _ in range(num_iters):", "for _ in range(num_iters - 1):"),
    "q3a-code": (
        "q3a",
        "torch.where(seen, lam * bigram + (1 - lam) * unigram_probs, unigram_probs)",
        "lam * bigram + (1 - lam) * unigram_probs",
    ),
    "q3b-code": ("q3b", "/ math.sqrt(head_size)", "/ math.sqrt(C)"),
    "q3c-code": ("q3c", "self.mlp(self.ln2(x))", "self.mlp(self.ln1(x))"),
    "q3d-code": ("q3d", "num_tokens += y.numel()", "num_tokens += y.size(0) * seq_len"),
    "q3e-code": ("q3e", "logits / temperature", "logits * temperature"),
}


def mutated(answer_id: str) -> dict:
    answers = {a: hostile.solved(a, SOLUTION) for a in ANSWERS}
    _, old, new = MUTANTS[answer_id]
    assert old in answers[answer_id], f"mutant of {answer_id} does not apply"
    answers[answer_id] = answers[answer_id].replace(old, new, 1)
    return hostile.notebook_with(answers, base=STUDENT)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hw1")
    cases = {"solution": hostile.notebook_with({a: hostile.solved(a, SOLUTION) for a in ANSWERS}, base=STUDENT),
             "blank": STUDENT, **{f"mutant-{a}": mutated(a) for a in MUTANTS}}  # fmt: skip
    paths = [hostile.write(folder / f"{name}.ipynb", nb) for name, nb in cases.items()]
    graded = grade.grade("hw1", paths, grade.Settings(cell_timeout=120, timeout=600, jobs=2))
    return {Path(r.submission).stem: r for r in graded}


def test_every_answer_cell_has_a_mutant():
    assert set(MUTANTS) == set(ANSWERS)


def test_solution_scores_100_and_blank_scores_0(rows):
    assert rows["solution"].score == rows["solution"].max_score == 100, rows["solution"].reasons
    assert rows["blank"].score == 0 and rows["blank"].status == "graded"


@pytest.mark.parametrize("answer_id", list(MUTANTS))
def test_a_subtly_wrong_answer_loses_its_question(rows, answer_id):
    row = rows[f"mutant-{answer_id}"]
    lost = MUTANTS[answer_id][0]
    assert row.status == "graded" and row.points[lost] == 0, f"{lost} passed a wrong answer"
    assert row.reasons[lost] and row.score < 100
