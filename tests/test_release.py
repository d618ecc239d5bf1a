"""The student-version builder: stubs answers, drops hidden tests, is deterministic, and detects staleness."""

import json
import shutil

import pytest

from utils import release
from utils.authoring import BEGIN_HIDDEN, AuthoringError, build_student_notebook, source_text
from utils.colab import dump_notebook
from utils.config import REPO_ROOT


def cell(source, cell_id, grader=None, cell_type="code"):
    c = {"cell_type": cell_type, "id": cell_id, "metadata": {"grader": grader} if grader else {}, "source": source}
    if cell_type == "code":
        c |= {"execution_count": 3, "outputs": [{"output_type": "stream", "name": "stdout", "text": "secret\n"}]}
    return c


def notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


ANSWER = "def f(x):\n    # doc\n    ### BEGIN SOLUTION\n    return x + 42\n    ### END SOLUTION\n"
ONE_POINT = {"id": "g", "kind": "graded", "points": 1}
GRADED = "assert f(1) == 43\n### BEGIN HIDDEN TESTS\nreport('f(-42)', f(-42))\n### END HIDDEN TESTS\nprint('ok')"


def test_answer_cells_are_stubbed_with_their_indentation():
    nb = notebook(
        cell(ANSWER, "a", {"id": "a", "kind": "answer"}), cell(GRADED, "g", {"id": "g", "kind": "graded", "points": 2})
    )
    student = build_student_notebook(nb)
    answer, graded = (source_text(c) for c in student["cells"])
    assert answer == "def f(x):\n    # doc\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert graded == "assert f(1) == 43\nprint('ok')"
    assert "42" not in answer and "-42" not in graded and "HIDDEN" not in graded
    for c in student["cells"]:
        assert c["outputs"] == [] and c["execution_count"] is None  # outputs never leak
    assert nb["cells"][0]["source"] == ANSWER  # the input is not modified


def test_markdown_answers_are_stubbed():
    md = cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "m", {"id": "m", "kind": "answer"}, "markdown")
    student = build_student_notebook(notebook(md))
    assert source_text(student["cells"][0]) == "Why?\nYOUR ANSWER HERE"


@pytest.mark.parametrize(
    "bad, message",
    [
        (cell("x = 1\n### BEGIN SOLUTION\ny = 2\n", "a", {"id": "a", "kind": "answer"}), "without"),
        (cell("### BEGIN HIDDEN TESTS\nreport('x', 1)\n", "g", ONE_POINT), "without"),
        (cell("x = 1\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS", "g", ONE_POINT), "report"),
        (cell(ANSWER, "other", {"id": "a", "kind": "answer"}), "cell id must equal"),
        (cell(GRADED, "g", {"id": "g", "kind": "graded"}), "positive points"),
        (cell(GRADED, "g", {"id": "g", "kind": "graded", "points": True}), "positive points"),
        (cell(GRADED, "g", {"id": "g", "kind": "bonus", "points": 1}), "kind"),
        (cell(ANSWER, "x"), "without grader metadata"),
        (cell("y = 1", "a", {"id": "a", "kind": "answer"}), "solution block"),
    ],
)
def test_authoring_errors_are_reported(bad, message):
    with pytest.raises(AuthoringError, match=message):
        build_student_notebook(notebook(bad))


def test_duplicate_grader_ids_are_reported():
    a = cell(ANSWER, "a", {"id": "a", "kind": "answer"})
    with pytest.raises(AuthoringError, match="duplicate"):
        build_student_notebook(notebook(a, a))


def test_committed_student_versions_are_current():
    assert release.release(check=True) == [], "run: python -m utils.release"
    assert release.main(["--check"]) == 0


def test_every_solution_builds_a_clean_student_version():
    for path in sorted((REPO_ROOT / "solutions").glob("hw*.ipynb")):
        solution = json.loads(path.read_text())
        student = build_student_notebook(solution, path.name)
        text = json.dumps(student)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        graded = [c for c in solution["cells"] if c["metadata"].get("grader", {}).get("kind") == "graded"]
        answers = [c for c in student["cells"] if c["metadata"].get("grader", {}).get("kind") == "answer"]
        assert graded and answers
        code_answers = [c for c in answers if c["cell_type"] == "code"]
        assert all("raise NotImplementedError()" in source_text(c) for c in code_answers)
        # Pure function: two builds are byte-identical.
        rebuilt = build_student_notebook(solution, path.name)
        assert dump_notebook(student) == dump_notebook(rebuilt)


def test_hw0_has_three_graded_cells_with_points():
    solution = json.loads((REPO_ROOT / "solutions" / "hw0.ipynb").read_text())
    graded = {
        c["id"]: c["metadata"]["grader"]["points"]
        for c in solution["cells"]
        if c["metadata"].get("grader", {}).get("kind") == "graded"
    }
    assert len(graded) == 3 and all(p > 0 for p in graded.values())
    assert all(BEGIN_HIDDEN in source_text(c) for c in solution["cells"] if c["id"] in graded)


def test_editing_a_solution_makes_check_fail(tmp_path):
    for folder in ("solutions", "homeworks"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    assert release.release(root=tmp_path, check=True) == []
    path = tmp_path / "solutions" / "hw0.ipynb"
    solution = json.loads(path.read_text())
    solution["cells"][1]["source"] = ["# Homework 0, edited by an instructor\n"]
    path.write_text(json.dumps(solution))
    stale = release.release(root=tmp_path, check=True)
    assert stale == [tmp_path / "homeworks" / "hw0.ipynb"]
    assert release.release(root=tmp_path) == stale  # regenerate
    assert release.release(root=tmp_path, check=True) == []
    assert "edited by an instructor" in (tmp_path / "homeworks" / "hw0.ipynb").read_text()
