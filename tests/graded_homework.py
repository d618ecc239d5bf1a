"""The tests every graded homework shares: the solution scores full marks and the blank student version 0; correct
answers written another way (variants) score full marks; each plausible mistake (mutant) loses the points of the
question it answers, and only those (the training results excepted: they depend on their part's answers by design).

Mutants of different questions share a submission (``tests.hostile.mutant_packs``): the k-th mutant of every
odd-numbered graded question in one notebook, of every even-numbered one in another. One batch per homework is
graded once, in smoke mode, and every test reads its rows. A test module builds a :class:`Suite` and puts its
tests in its namespace::

    SUITE = Suite("hw2", MUTANTS, VARIANTS, training_results={"q2d"})
    globals().update(SUITE.tests())
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import hostile
from utils import grade

MUTANTS_PER_CELL = 3  # at least this many plausible mistakes per answer cell

BATCH_PROPERTY = "grading batch"  # a test's user property that conftest.py lists in the session's summary


def batch_times(homework: str, rows, seconds: float) -> tuple[str, dict]:
    """A batch's wall time and each submission's run time, as a property for ``record_property``."""
    return BATCH_PROPERTY, {"homework": homework, "wall": seconds,
                            "runs": {Path(r.submission).stem: r.seconds or 0.0 for r in rows}}  # fmt: skip


def graded_cell(answer_id: str) -> str:
    """The graded cell that an answer cell's mistakes must cost: ``q2a-code`` -> ``q2a``."""
    return answer_id.removesuffix("-code")


class Suite:
    """One homework's mutants and variants, and the submissions built from them.

    Args:
        homework: e.g. ``"hw2"`` (``solutions/hw2.ipynb`` and ``homeworks/hw2.ipynb``).
        mutants: answer cell -> [(what the mistake is, text in the solution, replacement)], at least three per
            answer cell.
        variants: submission name -> {answer cell: a correct answer's source}.
        training_results: graded cells that any mistake of their part may cost.
    """

    def __init__(self, homework: str, mutants: dict, variants: dict, training_results=()):
        self.homework, self.mutants, self.variants = homework, mutants, variants
        self.training_results = set(training_results)
        self.solution, self.student = hostile.load(homework)
        self.answers = [a for a in hostile.answer_ids(self.solution) if a != "reflection"]  # reflection: not graded
        self.points = {c["id"]: c["metadata"]["grader"]["points"] for c in self.solution["cells"]
                       if c["metadata"].get("grader", {}).get("kind") == "graded"}  # fmt: skip
        self.solved = {a: hostile.solved(a, self.solution) for a in self.answers}
        # In the shape tests.hostile packs: "q1-code-0" -> (answer cell, graded cell, [(old, new)]).
        self.named_mutants = {f"{a}-{k}": (a, graded_cell(a), [(old, new)]) for a, ms in mutants.items()
                              for k, (_, old, new) in enumerate(ms)}  # fmt: skip
        self.packs = hostile.mutant_packs(self.named_mutants)

    def pack_of(self, answer_id: str, k: int) -> str:
        return next(name for name, names in self.packs.items() if f"{answer_id}-{k}" in names)

    def mutated(self, answer_id: str, k: int) -> str:
        return hostile.mutated(f"{answer_id}-{k}", self.solved, self.named_mutants)[answer_id]

    def submissions(self) -> dict[str, dict]:
        """Name -> notebook: the solution, the blank student version, every variant and every pack of mutants."""

        def filled(answers):
            return hostile.notebook_with(answers, base=self.student)

        return {"solution": filled(self.solved), "blank": self.student,
                **{name: filled(self.solved | answers) for name, answers in self.variants.items()},
                **{name: filled(hostile.packed(names, self.solved, self.named_mutants))
                   for name, names in self.packs.items()}}  # fmt: skip

    def grade(self, folder: Path) -> dict:
        """Grade every submission in one batch (smoke mode, as CI runs): name -> the grader's row."""
        paths = [hostile.write(folder / f"{name}.ipynb", nb) for name, nb in self.submissions().items()]
        start = time.monotonic()
        graded = grade.grade(self.homework, paths, grade.Settings(cell_timeout=120, timeout=600, jobs=2))
        self.times = batch_times(self.homework, graded, time.monotonic() - start)
        return {Path(r.submission).stem: r for r in graded}

    def tests(self) -> dict:
        """The ``rows`` fixture and the shared test functions, to put in a test module's namespace."""
        suite = self

        @pytest.fixture(scope="module")
        def rows(tmp_path_factory):
            return suite.grade(tmp_path_factory.mktemp(suite.homework))

        def test_every_answer_cell_has_at_least_three_mutants_that_apply():
            assert set(suite.mutants) == set(suite.answers)
            for answer_id, mutants in suite.mutants.items():
                assert len(mutants) >= MUTANTS_PER_CELL, answer_id
                for k in range(len(mutants)):
                    assert suite.mutated(answer_id, k) != suite.solved[answer_id]

        def test_points_sum_to_100_over_at_least_ten_graded_cells():
            assert sum(suite.points.values()) == 100 and len(suite.points) >= 10
            assert suite.training_results <= set(suite.points)
            assert all(graded_cell(a) in suite.points for a in suite.answers)

        def test_solution_scores_100_and_blank_scores_0(rows, record_property):
            record_property(*suite.times)
            solution = rows["solution"]
            assert solution.score == solution.max_score == sum(suite.points.values()), solution.reasons
            assert rows["blank"].score == 0 and rows["blank"].status == "graded"

        @pytest.mark.parametrize("name", list(suite.variants))
        def test_a_correct_answer_written_another_way_scores_100(rows, name):
            assert rows[name].status == "graded" and rows[name].score == rows[name].max_score, rows[name].reasons

        @pytest.mark.parametrize("answer_id,k", [(a, k) for a, ms in suite.mutants.items() for k in range(len(ms))])
        def test_a_plausible_mistake_loses_its_question(rows, answer_id, k):
            row, lost = rows[suite.pack_of(answer_id, k)], graded_cell(answer_id)
            assert row.status == "graded" and row.points[lost] == 0, f"{lost} passed: {suite.mutants[answer_id][k][0]}"
            assert row.reasons[lost]

        @pytest.mark.parametrize("name", list(suite.packs))
        def test_a_mistake_costs_no_other_question(rows, name):
            mutated_questions = {suite.named_mutants[mutant][1] for mutant in suite.packs[name]}
            spared = {q: p for q, p in suite.points.items()
                      if q not in mutated_questions and q not in suite.training_results}  # fmt: skip
            lost = {q: rows[name].reasons.get(q) for q, p in spared.items() if rows[name].points[q] != p}
            assert not lost, f"untouched questions lost points: {lost}"

        return {name: value for name, value in locals().items() if name == "rows" or name.startswith("test_")}
