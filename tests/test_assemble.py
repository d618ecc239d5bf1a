"""Fast tests of submission reading, answer matching and assembly (no kernel involved)."""

import json

import pytest

from tests import hostile
from utils.authoring import source_text
from utils.grade import assemble as submission

SOLUTION = hostile.SOLUTION


def answers_of(nb):
    return submission.find_answers(nb, SOLUTION)


def test_answers_matched_by_grader_id_and_assembled_into_the_solution():
    nb = hostile.notebook_with({"q1-code": "def pairwise_sq_dists(X, Y):\n    return 0\n"})
    found = answers_of(nb)
    assert found.sources["q1-code"].endswith("return 0\n") and "NotImplementedError" in found.sources["q2-code"]
    assembled = submission.assemble(SOLUTION, found).notebook
    by_id = {c["id"]: c for c in assembled["cells"]}
    assert source_text(by_id["q1-code"]) == found.sources["q1-code"]
    # Graded cells, hidden tests included, come from the solution.
    assert "BEGIN HIDDEN TESTS" in source_text(by_id["q1"])
    assert all(c.get("outputs", []) == [] for c in assembled["cells"])


def test_student_edits_outside_answer_cells_are_ignored():
    found = answers_of(hostile.graded_cell_edited())
    assembled = submission.assemble(SOLUTION, found)
    q1 = next(c for c in assembled.notebook["cells"] if c["id"] == "q1")
    canonical = source_text(next(c for c in SOLUTION["cells"] if c["id"] == "q1"))
    assert source_text(q1) == canonical.rstrip("\n") + submission.finish_line(assembled.finish_token)


def test_colab_files_without_ids_or_metadata_match_by_first_line():
    found = answers_of(hostile.colab_nbformat_40())
    assert set(found.sources) == set(hostile.ANSWER_IDS)
    assert any("matched by its first line" in note for note in found.notes)


def test_duplicates_missing_cells_and_markers_are_noted():
    found = answers_of(hostile.duplicated_answer())
    assert "- X @ Y.T" in found.sources["q1-code"] and "appears 2 times" in found.notes[0]
    found = answers_of(hostile.missing_answer())
    assert "q2-code" not in found.sources and "answer cell q2-code is missing" in found.notes[0]
    assembled = submission.assemble(SOLUTION, found).notebook
    q2 = next(c for c in assembled["cells"] if c["id"] == "q2-code")
    assert "raise NotImplementedError()" in source_text(q2)  # graded as unanswered
    found = answers_of(hostile.tampered("nbval-markers"))
    assert "NBVAL" not in found.sources["q1-code"] and any("NBVAL markers removed" in n for n in found.notes)
    assembled = submission.assemble(SOLUTION, found).notebook
    assert not any(c["metadata"].get("tags") for c in assembled["cells"])


def test_malformed_cells_do_not_break_matching():
    nb = hostile.notebook_with({})
    nb["cells"].insert(0, "not a cell")
    nb["cells"][3]["metadata"] = ["not", "a", "dict"]
    q1 = next(c for c in nb["cells"] if isinstance(c, dict) and c.get("id") == "q1-code")
    q1["source"] = [1, 2, 3]
    found = answers_of(nb)
    assert "q1-code" not in found.sources and any("malformed source" in n for n in found.notes)


@pytest.mark.parametrize(
    "content, message",
    [(b"{not json", "not a readable notebook"), (b"[1, 2, 3]", "not a Jupyter notebook"),
     (b"\x89PNG\r\n\x1a\n\x00\x00", "not a readable notebook"), (b"", "not a readable notebook"),
     (json.dumps({"cells": "nope"}).encode(), "not a Jupyter notebook")],
)  # fmt: skip
def test_unreadable_files_are_rejected_with_a_reason(tmp_path, content, message):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(submission.UnreadableSubmission, match=message):
        submission.read_submission(path)


def test_graded_cells_end_with_a_fresh_finish_token():
    found = answers_of(hostile.notebook_with({}))
    first, second = submission.assemble(SOLUTION, found), submission.assemble(SOLUTION, found)
    assert first.finish_token != second.finish_token
    for cell in first.notebook["cells"]:
        text = source_text(cell)
        is_graded = cell["metadata"].get("grader", {}).get("kind") == "graded"
        assert (submission.finish_line(first.finish_token) in text) == is_graded
        if is_graded:
            assert text.endswith(submission.finish_line(first.finish_token))


def test_integers_beyond_pythons_digit_limit_do_not_make_a_file_unreadable(tmp_path):
    nb = hostile.notebook_with({})
    nb["metadata"]["huge"] = 0  # replaced by 5,000 digits in the text
    path = tmp_path / "huge.ipynb"
    path.write_text(json.dumps(nb).replace('"huge": 0', '"huge": ' + "7" * 5000))
    with pytest.raises(ValueError):
        json.loads(path.read_text())  # what made one file sink a whole batch
    assert submission.read_submission(path)["metadata"]["huge"] == "7" * 5000
