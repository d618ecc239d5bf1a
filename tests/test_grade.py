"""The autograder end to end on HW0: one batch of correct, blank, wrong, tampering and hostile submissions.

The batch runs once (about two minutes on two cores); each test reads its rows. It runs as whatever user runs
the tests — root in CI, so the sandbox is tested against a root grader. Tests about what the sandbox prevents
need bubblewrap and skip, saying so, where it is unavailable (the batch then runs with ``sandbox=False``).
"""

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests import hostile
from tests.graded_homework import batch_times
from utils import grade
from utils.config import REPO_ROOT
from utils.grade import sandbox

CELL_TIMEOUT = 20  # the config cell imports torch and scikit-learn: several seconds on a busy machine
SANDBOX = sandbox.unavailable_reason() is None
MUTANT_Q1_SCORE = sum(hostile.POINTS.values()) - hostile.POINTS["q1"]
PACKS = hostile.mutant_packs(hostile.MUTANTS)


def tracked_files_digest() -> str:
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split()
    digest = hashlib.sha256()
    for name in files:
        path = REPO_ROOT / name
        digest.update(name.encode() + (path.read_bytes() if path.is_file() else b"<missing>"))
    return digest.hexdigest()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    outside = tmp_path_factory.mktemp("outside") / "sentinel.txt"
    outside.write_text("keep me")
    (REPO_ROOT / "data").mkdir(exist_ok=True)
    in_repo = REPO_ROOT / "data" / f"sandbox-sentinel-{uuid.uuid4().hex[:8]}.txt"
    in_repo.write_text("keep me too")
    evil = REPO_ROOT / "data" / f"evil-{uuid.uuid4().hex[:8]}.txt"
    root_secret = Path.home() / f"gm-sandbox-secret-{uuid.uuid4().hex[:8]}.txt"  # /root when run as root
    root_secret.write_text("a secret of the grader's user")
    answers = {a: hostile.solved(a) for a in hostile.ANSWER_IDS}

    cases = {
        "solution": hostile.notebook_with(answers),
        "blank": hostile.STUDENT,
        **{pack: hostile.notebook_with(hostile.packed(names)) for pack, names in PACKS.items()},
        **{
            f"variant-{name}": hostile.notebook_with({**answers, cell: text})
            for name, (cell, text) in hostile.VARIANTS.items()
        },
        **{f"tamper-{kind}": hostile.tampered(kind) for kind in hostile.TAMPERING},
        "tamper-graded-cell-edited": hostile.graded_cell_edited(),
        "tamper-graded-cell-deleted": hostile.graded_cell_deleted(),
        "colab-nbformat-4.0": hostile.colab_nbformat_40(),
        "duplicated-answer": hostile.duplicated_answer(),
        "missing-answer": hostile.missing_answer(),
        "infinite-loop": hostile.notebook_with({**answers, "q1-code": hostile.INFINITE_LOOP}),
        "os-exit": hostile.with_q1_prefix(hostile.OS_EXIT, answer="q3-code"),
        "allocate-2gb": hostile.with_q1_prefix(hostile.ALLOCATE_2GB),
        "memory-bomb": hostile.with_q1_prefix(hostile.MEMORY_BOMB),
        "print-50mb": hostile.with_q1_prefix(hostile.PRINT_50MB),
        "fork-loop": hostile.with_q1_prefix(hostile.FORK_LOOP),
        "fill-tmp": hostile.with_q1_suffix(hostile.FILL_TMP),
        "file-attack": hostile.with_q1_suffix(hostile.file_attack([outside, in_repo], evil)),
        "solution-hunt": hostile.with_q1_suffix(hostile.solution_hunt()),
        "escape": hostile.with_q1_suffix(hostile.escape_attempts(root_secret)),
        "swallow-exceptions-blank": hostile.notebook_with(
            {"q1-code": hostile.SWALLOW_EXCEPTIONS + hostile.unanswered("q1-code")}
        ),
        "exfiltrate-hidden-tests": hostile.exfiltration(),
        "report-huge-integer": hostile.with_q1_prefix(hostile.REPORT_HUGE_INTEGER, answer="q3-code"),
        "huge-integer-in-file": hostile.with_huge_integer(),
        "truncated-json": hostile.truncated(),
        "malformed-json": '{"cells": [',
        "not-a-notebook": '["a", "list"]',
    }
    paths = [hostile.write(folder / f"{name}.ipynb", nb) for name, nb in cases.items()]
    binary = folder / "binary.ipynb"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    paths.append(binary)

    before = tracked_files_digest()
    settings = grade.Settings(cell_timeout=CELL_TIMEOUT, timeout=180, jobs=2, sandbox=SANDBOX)
    finished = []
    start = time.monotonic()
    rows = grade.grade("hw0", paths, settings, on_row=finished.append)
    times = batch_times("hw0", rows, time.monotonic() - start)
    after = tracked_files_digest()
    result = {
        "rows": {Path(r.submission).stem: r for r in rows},
        "order": [Path(r.submission).stem for r in rows],
        "names": [p.stem for p in paths],
        "unchanged": before == after,
        "outside": outside,
        "in_repo": in_repo,
        "evil": evil,
        "stray": sandbox.kill_marked(grader=os.getpid()),  # what is left of this process's runs
        "finished": finished,
        "times": times,
    }
    yield result
    for path in (in_repo, evil, root_secret):
        path.unlink(missing_ok=True)


def needs_bubblewrap():
    if not SANDBOX:
        pytest.skip(f"no sandbox here ({sandbox.unavailable_reason()}): the batch ran with --no-sandbox")


def test_every_submission_gets_a_row_in_order(batch, record_property):
    record_property(*batch["times"])
    assert batch["order"] == batch["names"]
    assert sorted(r.submission for r in batch["finished"]) == sorted(r.submission for r in batch["rows"].values())
    assert all(r.isolation.startswith("bubblewrap" if SANDBOX else "NONE") for r in batch["rows"].values())


def test_solution_scores_full_marks_and_blank_scores_zero(batch):
    solution, blank = batch["rows"]["solution"], batch["rows"]["blank"]
    assert solution.status == "graded" and solution.score == solution.max_score == 10
    assert blank.status == "graded" and blank.score == 0 and set(blank.points.values()) == {0}
    assert all("NotImplementedError" in reasons[0] for reasons in blank.reasons.values())
    # The failing visible line is quoted; a hidden test never is.
    assert "at line" in blank.reasons["q1"][0] and "hidden" not in blank.reasons["q1"][0]


def test_every_answer_cell_has_three_plausible_mistakes():
    for answer_id in hostile.ANSWER_IDS:
        assert sum(cell == answer_id for cell, _, _ in hostile.MUTANTS.values()) >= 3, answer_id


@pytest.mark.parametrize("name", list(hostile.MUTANTS))
def test_a_plausible_mistake_loses_its_question(batch, name):
    pack = next(p for p, names in PACKS.items() if name in names)
    row, lost = batch["rows"][pack], hostile.MUTANTS[name][1]
    assert row.points[lost] == 0 and row.reasons[lost], f"graded cell {lost} passed the mistake {name}"


@pytest.mark.parametrize("pack", list(PACKS))
def test_questions_without_a_mistake_keep_their_points(batch, pack):
    row = batch["rows"][pack]
    mutated = {hostile.MUTANTS[name][1] for name in PACKS[pack]}
    assert all(row.points[g] == p for g, p in hostile.POINTS.items() if g not in mutated), row.reasons


@pytest.mark.parametrize("name", list(hostile.VARIANTS))
def test_correct_answers_written_differently_score_full_marks(batch, name):
    row = batch["rows"][f"variant-{name}"]
    assert row.score == row.max_score, row.reasons


@pytest.mark.parametrize(
    "name", [f"tamper-{k}" for k in hostile.TAMPERING] + ["tamper-graded-cell-edited", "tamper-graded-cell-deleted"]
)
def test_tampering_does_not_pay(batch, name):
    row = batch["rows"][name]
    assert row.points["q1"] == 0
    assert row.score <= MUTANT_Q1_SCORE


def test_colab_file_without_ids_is_graded_in_full(batch):
    row = batch["rows"]["colab-nbformat-4.0"]
    assert row.score == 10 and "matched by its first line" in row.note


def test_duplicated_and_missing_answers_are_explained(batch):
    duplicated, missing = batch["rows"]["duplicated-answer"], batch["rows"]["missing-answer"]
    assert duplicated.points["q1"] == 0 and "appears 2 times" in duplicated.note
    assert missing.points["q2"] == 0 and missing.score == 7 and "q2-code is missing" in missing.note


def test_infinite_loop_costs_only_its_question(batch):
    row = batch["rows"]["infinite-loop"]
    assert row.status == "graded" and row.points == {"q1": 0, "q2": 3, "q3": 4}
    assert f"{CELL_TIMEOUT} s cell limit" in row.note and "time limit" in row.reasons["q1"][0]


def test_dead_kernel_keeps_the_points_earned_before(batch):
    row = batch["rows"]["os-exit"]
    assert row.points == {"q1": 3, "q2": 3, "q3": 0}
    assert "answer cell q3-code: the kernel died" in row.note


def test_memory_print_and_fork_abuse_leave_the_batch_intact(batch):
    assert batch["rows"]["print-50mb"].score == 10
    assert batch["rows"]["fork-loop"].score == 10
    bomb = batch["rows"]["memory-bomb"]
    assert bomb.points["q1"] == 0 and "answer cell q1-code: RuntimeError" in bomb.note
    assert "can't allocate memory" in bomb.note
    assert batch["rows"]["allocate-2gb"].status == "graded"
    if SANDBOX and sandbox.supports("--size"):  # the kernel's /tmp is memory: capped so it cannot fill the RAM
        fill = batch["rows"]["fill-tmp"]
        assert fill.score == 10 and "tmp full after 500 MiB" in fill.note, fill.note


def test_no_process_of_any_run_survives(batch):
    assert batch["stray"] == 0


def test_unreadable_files_get_a_row(batch):
    for name in ("malformed-json", "truncated-json", "not-a-notebook", "binary"):
        row = batch["rows"][name]
        assert row.status == "unreadable" and row.score == 0 and row.note


def test_a_huge_integer_sinks_neither_the_batch_nor_the_submission(batch):
    assert batch["rows"]["huge-integer-in-file"].score == 10  # in the file: kept as text, graded in full
    row = batch["rows"]["report-huge-integer"]  # displayed as a graded value from every cell after q3-code
    assert row.status == "graded" and row.points["q1"] == 3 and row.points["q2"] == 3 and row.points["q3"] == 0
    assert "could not be read" in row.reasons["q3"][0]


def test_swallowed_exceptions_score_nothing(batch):
    row = batch["rows"]["swallow-exceptions-blank"]
    assert row.status == "graded" and row.score == 0, row.reasons
    assert all(reasons for reasons in row.reasons.values())


def test_reports_never_carry_hidden_tests_out(batch):
    row = batch["rows"]["exfiltrate-hidden-tests"]
    assert row.points == {"q1": 3, "q2": 0, "q3": 4}
    assert "answer cell q2-code: RuntimeError: (message withheld" in row.note, row.note
    everything = json.dumps([vars(r) for r in batch["rows"].values()])
    assert hostile.hidden_lines() and not [line for line in hostile.hidden_lines() if line in everything]


def test_no_sandbox_escape_as_root(batch):
    needs_bubblewrap()
    row = batch["rows"]["escape"]
    account = row.note.split("RuntimeError: escape: ")[1]
    assert "umount 0, remount 0" in account, account
    assert "solutions ENOENT" in account and "root ENOENT" in account and "shadow ENOENT" in account, account
    assert "course EROFS" in account and "repo ENOENT" in account and "uid 65534" in account, account
    assert row.points["q1"] == 3 and batch["unchanged"]


def test_nothing_outside_the_work_dir_changes(batch):
    needs_bubblewrap()
    row = batch["rows"]["file-attack"]
    assert "file attack:" in row.note and "deleted" not in row.note and "wrote" not in row.note
    assert batch["outside"].read_text() == "keep me" and batch["in_repo"].read_text() == "keep me too"
    assert not batch["evil"].exists() and batch["unchanged"]
    assert row.points["q1"] == 3  # the answer itself was right


def test_the_solution_is_not_readable_from_the_kernel(batch):
    needs_bubblewrap()
    row = batch["rows"]["solution-hunt"]
    assert "solution hunt found: nothing" in row.note, row.note


def test_command_line_writes_csv_and_json_and_exits_zero(tmp_path):
    blank = hostile.write(tmp_path / "blank.ipynb", hostile.STUDENT)
    broken = hostile.write(tmp_path / "broken.ipynb", "{")
    out, report = tmp_path / "grades.csv", tmp_path / "grades.json"
    command = [sys.executable, "-m", "utils.grade", "hw0", str(blank), str(broken), "--out", str(out),
               "--json", str(report), "--cell-timeout", "30", *([] if SANDBOX else ["--no-sandbox"])]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "submission,status,score,max_score,q1,q2,q3,note,isolation"
    assert lines[1].startswith(f"{blank},graded,0,10,0,0,0,") and f"{broken},unreadable,0,10" in lines[2]
    reasons = json.loads(report.read_text())[0]["reasons"]
    assert set(reasons) == {"q1", "q2", "q3"} and reasons["q1"][0].startswith("NotImplementedError")


def test_instructor_errors_exit_non_zero(tmp_path):
    assert grade.main(["hw9", str(tmp_path / "x.ipynb")]) == 2
    assert grade.main(["hw0"]) == 2


def test_a_graded_cell_without_report_is_refused(tmp_path, capsys):
    solution = json.loads(json.dumps(hostile.SOLUTION))
    q1 = next(c for c in solution["cells"] if c["id"] == "q1")
    q1["source"] = "\n".join(line for line in hostile.authoring.source_text(q1).split("\n") if "report(" not in line)
    path = hostile.write(tmp_path / "no-report.ipynb", solution)
    blank = hostile.write(tmp_path / "blank.ipynb", hostile.STUDENT)
    assert grade.main([str(path), str(blank), "--out", str(tmp_path / "g.csv"), "--no-sandbox"]) == 2
    assert "must hand at least one value to the grader with report(...)" in capsys.readouterr().err


def test_without_the_sandbox_it_refuses_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "bubblewrap is not installed")
    blank = hostile.write(tmp_path / "blank.ipynb", hostile.STUDENT)
    out = tmp_path / "grades.csv"
    assert grade.main(["hw0", str(blank), "--out", str(out)]) == 2
    assert "refusing to grade without the sandbox" in capsys.readouterr().err and not out.exists()
    assert grade.main(["hw0", str(blank), "--out", str(out), "--no-sandbox", "--cell-timeout", "30"]) == 0
    (row,) = csv.DictReader(out.open())
    assert row["status"] == "graded" and row["isolation"].startswith("NONE (--no-sandbox)")
    assert "WARNING: graded without the sandbox" in capsys.readouterr().err


def csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open())) if path.exists() else []


def test_an_interrupted_batch_keeps_its_rows_and_resumes(tmp_path):
    answers = {a: hostile.solved(a) for a in hostile.ANSWER_IDS}
    paths = [hostile.write(tmp_path / f"student{i}.ipynb", hostile.notebook_with(answers)) for i in range(4)]
    out, report = tmp_path / "grades.csv", tmp_path / "grades.json"
    command = [sys.executable, "-m", "utils.grade", "hw0", *map(str, paths), "--out", str(out), "--json",
               str(report), *([] if SANDBOX else ["--no-sandbox"])]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(csv_rows(out)) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)  # no chance to clean up: a crash, an OOM kill
    process.wait()
    kept = csv_rows(out)
    assert 2 <= len(kept) < 4 and all(r["score"] == "10" for r in kept)
    assert len(json.loads(report.read_text())) == len(kept)  # the JSON report is whole, not cut off
    deadline = time.monotonic() + 10
    while sandbox.marked_processes(grader=process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sandbox.marked_processes(grader=process.pid) == []  # the runs died with the grader

    done = subprocess.run([*command, "--resume"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {len(kept)} submissions already graded, {4 - len(kept)} to go" in done.stdout
    final = csv_rows(out)
    assert [r["submission"] for r in final] == list(map(str, paths)) and all(r["score"] == "10" for r in final)
    assert [r["submission"] for r in json.loads(report.read_text())] == list(map(str, paths))


def test_the_reference_runs_cache_reaches_each_submission_and_no_submission_changes_it(tmp_path):
    # What the reference run writes under GM_CACHE (converted datasets, the trained feature network) is copied into
    # every submission's run, so none repeats that work; each gets its own copy, so a student's write stays there.
    solution = json.loads(json.dumps(hostile.SOLUTION))
    cells = {c["id"]: c for c in solution["cells"]}
    cells["config"]["source"] = hostile.authoring.source_text(cells["config"]) + "\n" + hostile.code("""
        import os
        from utils.config import cache_dir
        cache_probe = cache_dir("probe") / "value.txt"
        if not cache_probe.exists():  # only the reference run finds it missing, if the cache is handed on
            cache_probe.write_text(str(int.from_bytes(os.urandom(4), "big")))
    """)
    q1 = hostile.authoring.source_text(cells["q1"])
    cells["q1"]["source"] = q1.replace(hostile.authoring.END_HIDDEN, 'report("cached", float(cache_probe.read_text()))\n'
                                       + hostile.authoring.END_HIDDEN)
    path = hostile.write(tmp_path / "hw0-probe.ipynb", solution)
    answers = {a: hostile.solved(a) for a in hostile.ANSWER_IDS}
    overwrite = answers | {"q1-code": answers["q1-code"] + '\ncache_probe.write_text("7")\n'}
    submissions = [hostile.write(tmp_path / f"{name}.ipynb", hostile.notebook_with(a))
                   for name, a in [("overwrites", overwrite), ("after", answers)]]  # fmt: skip
    rows = grade.grade(str(path), submissions, grade.Settings(cell_timeout=60, timeout=300, jobs=1,
                                                              sandbox=SANDBOX))  # fmt: skip
    overwrites, after = rows
    assert overwrites.points["q1"] == 0 and any("cached" in r for r in overwrites.reasons["q1"]), overwrites.reasons
    assert after.score == after.max_score, after.reasons
