MUTANTS_PER_CELL = 3
# The same mutants in the shape tests.hostile packs: "q1-code-0" -> (answer cell, graded cell, [(old, new)]).
NAMED_MUTANTS = {f"{a}-{k}": (a, graded_cell(a), [(old, new)]) for a, ms in MUTANTS.items()
                 for k, (_, old, new) in enumerate(ms)}  # fmt: skip
PACKS = hostile.mutant_packs(NAMED_MUTANTS)
SOLVED = {a: hostile.solved(a, SOLUTION) for a in ANSWERS}


def pack_of(answer_id: str, k: int) -> str:
    return next(name for name, names in PACKS.items() if f"{answer_id}-{k}" in names)


def mutated(answer_id: str, k: int) -> str:
    return hostile.mutated(f"{answer_id}-{k}", SOLVED, NAMED_MUTANTS)[answer_id]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hw2")
    cases = {"solution": hostile.notebook_with(SOLVED, base=STUDENT), "blank": STUDENT,
             **{name: hostile.notebook_with(SOLVED | answers, base=STUDENT) for name, answers in VARIANTS.items()},
             **{name: hostile.notebook_with(hostile.packed(names, SOLVED, NAMED_MUTANTS), base=STUDENT)
                for name, names in PACKS.items()}}  # fmt: skip
    paths = [hostile.write(folder / f"{name}.ipynb", nb) for name, nb in cases.items()]
    graded = grade.grade("hw2", paths, grade.Settings(cell_timeout=120, timeout=600, jobs=2))
    return {Path(r.submission).stem: r for r in graded}


def test_every_answer_cell_has_three_mutants_that_apply():
    assert set(MUTANTS) == set(ANSWERS)
    for answer_id, mutants in MUTANTS.items():
        assert len(mutants) == MUTANTS_PER_CELL, answer_id
        for k in range(MUTANTS_PER_CELL):
            assert mutated(answer_id, k) != SOLVED[answer_id]


def test_points_sum_to_100_over_at_least_ten_graded_cells():
    assert sum(POINTS.values()) == 100 and len(POINTS) >= 10
    assert TRAINING_RESULTS <= set(POINTS) and all(f"{graded_cell(a)}" in POINTS for a in ANSWERS)


def test_solution_scores_100_and_blank_scores_0(rows):
    assert rows["solution"].score == rows["solution"].max_score == 100, rows["solution"].reasons
    assert rows["blank"].score == 0 and rows["blank"].status == "graded"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_correct_answer_written_another_way_scores_100(rows, name):
    assert rows[name].status == "graded" and rows[name].score == 100, rows[name].reasons


@pytest.mark.parametrize("answer_id,k", [(a, k) for a in MUTANTS for k in range(MUTANTS_PER_CELL)])
def test_a_plausible_mistake_loses_its_question(rows, answer_id, k):
    row, lost = rows[pack_of(answer_id, k)], graded_cell(answer_id)
    assert row.status == "graded" and row.points[lost] == 0, f"{lost} passed: {MUTANTS[answer_id][k][0]}"
    assert row.reasons[lost]


@pytest.mark.parametrize("name", list(PACKS))
def test_a_mistake_costs_no_other_question(rows, name):
    mutated_questions = {NAMED_MUTANTS[mutant][1] for mutant in PACKS[name]}
    row = rows[name]
    kept = {q: p for q, p in POINTS.items() if q not in mutated_questions and q not in TRAINING_RESULTS}
    lost = {q: row.reasons.get(q) for q, p in kept.items() if row.points[q] != p}
    assert not lost, f"untouched questions lost points: {lost}"
