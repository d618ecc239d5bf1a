"""The student tree (``python -m utils.release --export``): nothing secret in it, exactly the files students need,
deterministic, safe to re-export, runnable on its own, and pointing at the student repository only."""

import ast
import json
import keyword
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from utils import colab, release
from utils.authoring import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    block_lines,
    replace_blocks,
    source_text,
)
from utils.config import REPO_ROOT
from utils.student_tree import MARKER, RUNTIME_UTILS, ExportError, export, homework_names

ALL_HOMEWORKS = homework_names()
LECTURES = sorted(f"lectures/{p.name}" for p in (REPO_ROOT / "lectures").glob("*.ipynb"))
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/(?P<slug>[^/\s]+/[^/\s]+)/blob/(?P<ref>[^/\s]+)/"
    r"(?P<notebook>[^\s)]+?\.ipynb)"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The student tree with every homework, exported once for the tests that only read it."""
    target = tmp_path_factory.mktemp("export") / "student-tree"
    export(target, ALL_HOMEWORKS)
    return target


def tree_files(folder):
    """``{relative POSIX path: bytes}`` of every file under ``folder``, ``.git`` excluded."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


def copy_of_instructor_repo(tmp_path):
    """What the export and the two commands read, copied so that a test may change it."""
    root = tmp_path / "instructors"
    for folder in ("lectures", "solutions", "homeworks", "utils"):
        shutil.copytree(REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("README.md", "pyproject.toml", "requirements.txt", "LICENSE"):
        shutil.copy(REPO_ROOT / name, root / name)
    return root


# 1. Nothing of a solution or hidden-test block reaches the student tree.
#
# Lines are compared stripped. Three kinds of block line are not looked for:
# - a line that a solution notebook (any homework's) has outside every block: it is in a student version anyway;
# - a line without an identifier (``else:``, ``)``, ``]``): it tells nothing;
# - a generic line that a committed lecture also has (``GENERIC_LINES``, the measured list): it tells nothing of
#   the answer. Any other block line that a lecture contains is looked for, so the scan fails on it: a lecture that
#   hands out a homework answer line for line is caught (issue 10 moved those answers out of the lectures).

GENERIC_LINES = {
    "with torch.no_grad():",
    "for _ in range(num_steps):",
    "losses = []",
    "losses.append(loss.item())",
    "history = []",
    "D = X.shape[1]",
    "model.eval()",
    "def __init__(self):",
    "return z, log_q",
    "return x",
    "loss.backward()",
    "dtype=torch.float64)",
    "for _ in range(num_iters):",
}
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def carries_identifier(line: str) -> bool:
    return any(not keyword.iskeyword(word) for word in IDENTIFIER.findall(line))


def lines_outside_blocks(text: str) -> set[str]:
    public = replace_blocks(text, BEGIN_SOLUTION, END_SOLUTION, (), "scan")
    return {line.strip() for line in replace_blocks(public, BEGIN_HIDDEN, END_HIDDEN, (), "scan").split("\n")}


def looked_for_by_block(root=REPO_ROOT) -> dict[str, set[str]]:
    """``{block: the stripped lines of it that the scan looks for}`` for every solution and hidden-test block of
    every solution notebook (see the rules above); a block is named ``hw1.ipynb, cell q1b-code (solution)``."""
    lecture_lines = {
        line.strip()
        for path in (root / "lectures").glob("*.ipynb")
        for cell in json.loads(path.read_text())["cells"]
        for line in source_text(cell).split("\n")
    }
    generic_in_lectures = lecture_lines & GENERIC_LINES
    notebooks = {path.name: json.loads(path.read_text())["cells"] for path in sorted((root / "solutions").glob("*.ipynb"))}
    public = set().union(*(lines_outside_blocks(source_text(c)) for cells in notebooks.values() for c in cells))
    blocks = {}
    for name, cells in notebooks.items():
        for cell in cells:
            for begin, end, kind in ((BEGIN_SOLUTION, END_SOLUTION, "solution"), (BEGIN_HIDDEN, END_HIDDEN, "hidden")):
                if begin not in source_text(cell):
                    continue
                lines = {line.strip() for line in block_lines(source_text(cell), begin, end)}
                lines = {line for line in lines if line not in public and carries_identifier(line)}
                lines -= generic_in_lectures
                blocks[f"{name}, cell {cell['id']} ({kind})"] = lines
    return blocks


def secret_lines(root=REPO_ROOT) -> dict[str, str]:
    """``{stripped line: the first block it is secret in}``."""
    secrets = {}
    for block, lines in looked_for_by_block(root).items():
        for line in sorted(lines):
            secrets.setdefault(line, block)
    return secrets


def json_strings(value, where=""):
    """Every string in a JSON document, with where it is (``cells[3].source[5]``)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_strings(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from json_strings(item, f"{where}.{key}" if where else key)


def file_lines(path):
    """(location, line) for every line of a file; in a notebook, of every string in it (sources, outputs,
    metadata), so that a leak is found wherever in the JSON it sits."""
    text = path.read_text(encoding="utf-8")  # every exported file is text: a binary one fails here, loudly
    if path.suffix == ".ipynb":
        for where, string in json_strings(json.loads(text)):
            for number, line in enumerate(string.split("\n"), start=1):
                yield f"{where}, line {number}", line
    else:
        for number, line in enumerate(text.split("\n"), start=1):
            yield f"line {number}", line


def leaks(tree, secrets) -> list[str]:
    return [
        f"{path.relative_to(tree).as_posix()} {where}: {line.strip()!r} is from {secrets[line.strip()]}"
        for path in sorted(tree.rglob("*"))
        if path.is_file()
        for where, line in file_lines(path)
        if line.strip() in secrets
    ]


def test_no_line_of_a_solution_or_hidden_test_block_is_exported(exported):
    assert leaks(exported, secret_lines()) == []
    # The rules leave something to look for in every block (at the least, the values a hidden test reports).
    assert not [block for block, lines in looked_for_by_block().items() if not lines]


@pytest.mark.parametrize(
    "planted_in, kind",
    [("lectures/01_pushforward.ipynb", "hidden"), ("utils/plot.py", "hidden"), ("homeworks/hw0.ipynb", "solution")],
)
def test_the_scan_catches_a_planted_line(exported, tmp_path, planted_in, kind):
    tree = tmp_path / "tree"
    shutil.copytree(exported, tree)
    secrets = secret_lines()
    line, origin = next((s, block) for s, block in secrets.items() if block.endswith(f"({kind})"))
    path = tree / planted_in
    if path.suffix == ".ipynb":
        notebook = json.loads(path.read_text())
        notebook["cells"][2]["source"].append("\n    " + line)  # indented differently: still the same line
        path.write_text(json.dumps(notebook, indent=1))
    else:
        path.write_text(path.read_text() + f"    {line}\n")
    found = leaks(tree, secrets)
    assert len(found) == 1 and found[0].startswith(f"{planted_in} ") and origin in found[0], found


# 2. Exactly the files students need, only the homeworks named, deterministic, safe to export into.

# Instructor-only paths. The grader's own modules are; utils/graded.py, which graded cells import, is runtime.
FORBIDDEN_PREFIXES = ("solutions/", "tests/", ".ci/", ".git/", "utils/grade.py", "utils/grade_", "utils/grade/")
FORBIDDEN_FILES = {"pyproject.toml", "requirements-dev.txt", "conftest.py", "utils/sandbox.py", "utils/submission.py"}
FORBIDDEN_FILES |= {"utils/release.py", "utils/authoring.py", "utils/colab.py", "utils/student_tree.py"}


def expected_files(homeworks):
    return {
        ".gitignore",
        MARKER,
        "LICENSE",
        "README.md",
        "requirements.txt",
        *LECTURES,
        *(f"homeworks/{name}.ipynb" for name in homeworks),
        *(f"utils/{name}" for name in RUNTIME_UTILS),
    }


def test_the_export_holds_exactly_what_students_need(exported):
    files = tree_files(exported)
    assert set(files) == expected_files(ALL_HOMEWORKS)
    assert not [p for p in files if p.startswith(FORBIDDEN_PREFIXES) or p in FORBIDDEN_FILES]
    assert not [p for p in exported.rglob("*") if p.is_symlink()], "a link could point back into this repository"
    for name in ALL_HOMEWORKS:  # built from solutions/, and the same bytes as the committed student version
        assert files[f"homeworks/{name}.ipynb"] == (REPO_ROOT / "homeworks" / f"{name}.ipynb").read_bytes()
    for path in LECTURES:
        assert files[path] == (REPO_ROOT / path).read_bytes()


def test_runtime_utils_import_only_runtime_utils():
    for name in RUNTIME_UTILS:
        tree = ast.parse((REPO_ROOT / "utils" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:  # from .x import y / from . import x
                modules = [node.module] if node.module else [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils"):
                modules = [node.module.removeprefix("utils").lstrip(".") or "__init__"]
            elif isinstance(node, ast.Import):
                modules = [a.name.removeprefix("utils.") for a in node.names if a.name.startswith("utils.")]
            else:
                continue
            for module in modules:
                assert f"{module.split('.')[0]}.py" in RUNTIME_UTILS, f"utils/{name} imports {module}"


def test_only_the_homeworks_named_are_exported(tmp_path):
    export(tmp_path / "hw0-only", ["hw0"])
    files = tree_files(tmp_path / "hw0-only")
    assert set(files) == expected_files(["hw0"])
    readme = files["README.md"].decode()
    assert "homeworks/hw0.ipynb" in readme and "hw1" not in readme
    export(tmp_path / "none", [])
    assert not (tmp_path / "none" / "homeworks").exists()
    assert "No homework has been released yet." in (tmp_path / "none" / "README.md").read_text()
    with pytest.raises(ExportError, match="no solution notebook for: hw9"):
        export(tmp_path / "unknown", ["hw9"])
    assert not (tmp_path / "unknown").exists()


def test_two_exports_are_byte_identical(exported, tmp_path):
    export(tmp_path / "again", ALL_HOMEWORKS)
    assert tree_files(tmp_path / "again") == tree_files(exported)


def test_a_folder_that_is_not_a_previous_export_is_refused_untouched(tmp_path):
    target = tmp_path / "my-thesis"
    (target / "chapters").mkdir(parents=True)
    (target / "chapters" / "one.tex").write_text("precious")
    (target / "README.md").write_text("mine")
    before = tree_files(target)
    with pytest.raises(ExportError, match="not a previous export"):
        export(target, ["hw0"])
    assert tree_files(target) == before
    assert release.main(["--export", str(target), "hw0"]) == 2 and tree_files(target) == before


def test_re_export_replaces_a_previous_export_but_keeps_its_git_folder(tmp_path, capsys):
    target = tmp_path / "student-checkout"
    (target / ".git").mkdir(parents=True)  # a clone of the (empty) student repository counts as empty
    (target / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert release.main(["--export", str(target), "hw0", "hw1"]) == 0
    assert f"wrote: {target / 'homeworks' / 'hw1.ipynb'}" in capsys.readouterr().out
    (target / "notes-from-last-term.txt").write_text("left over")
    assert release.main(["--export", str(target), "hw0"]) == 0
    assert set(tree_files(target)) == expected_files(["hw0"])  # hw1 and the leftover are gone
    assert (target / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"


def test_stale_student_versions_and_setup_cells_are_refused(tmp_path):
    root = copy_of_instructor_repo(tmp_path)
    solution = root / "solutions" / "hw0.ipynb"
    notebook = json.loads(solution.read_text())
    notebook["cells"][1]["source"] = ["# Homework 0 — edited, not regenerated\n"]
    solution.write_text(json.dumps(notebook))
    with pytest.raises(ExportError, match=r"stale student version: homeworks/hw0\.ipynb; run python -m utils\.rel"):
        export(tmp_path / "out", ["hw0"], root=root)
    export(tmp_path / "out", ["hw1"], root=root)  # a homework that is not released does not matter
    release.release(root=root)
    colab.write_settings(root / "pyproject.toml", student_ref="2027-spring")
    with pytest.raises(ExportError, match=r"stale setup cell in: homeworks/hw0\.ipynb, lectures/.*utils\.colab"):
        export(tmp_path / "out", ["hw0"], root=root)
    assert set(tree_files(tmp_path / "out")) == expected_files(["hw1"])  # the refused exports changed nothing


# 3. The exported tree runs on its own.


def test_exported_hw0_setup_and_imports_run_from_the_tree_alone(exported, tmp_path):
    tree = tmp_path / "fresh"  # outside this repository, with nothing of it on the kernel's path
    shutil.copytree(exported, tree)
    notebook = nbformat.read(tree / "homeworks" / "hw0.ipynb", as_version=4)
    first_answer = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("grader"))
    notebook.cells = [c for c in notebook.cells[:first_answer] if c.cell_type == "code"]
    assert [c.id for c in notebook.cells] == ["colab-setup", "config"]
    probe = (
        "import json, sys, utils\nprint(json.dumps({'utils': utils.__file__, 'graded': report.__module__, "
        "'graded_file': sys.modules[report.__module__].__file__, 'path': sys.path}))"
    )
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"GM_SMOKE": "1"}
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tree / "homeworks")}}
    )
    client.execute(env=env)  # raises CellExecutionError if the setup or an import fails
    seen = json.loads(notebook.cells[-1].outputs[-1]["text"])
    assert Path(seen["utils"]).resolve().is_relative_to(tree.resolve()), seen["utils"]
    assert seen["graded"] == "utils.graded" and Path(seen["graded_file"]).resolve().is_relative_to(tree.resolve())
    assert not [p for p in seen["path"] if p and str(REPO_ROOT) in p]


# 4. Badges and setup cells point at the student repository, never at the instructors' one.


def instructor_repo_mentions(tree, repo):
    """Every mention of the instructors' repository (``OWNER/NAME``, not a longer name it is a prefix of)."""
    pattern = re.compile(re.escape(colab.github_slug(repo)) + r"(?![\w-])")
    return [
        f"{p.relative_to(tree)}: {m[0]}"
        for p in sorted(tree.rglob("*"))
        if p.is_file()
        for m in pattern.finditer(p.read_text())
    ]


def assert_points_at_student_repo(tree, settings):
    files = tree_files(tree)
    notebooks = [p for p in files if p.endswith(".ipynb")]
    for path in notebooks:
        first = source_text(json.loads(files[path])["cells"][0])
        assert first == colab.setup_cell_source(settings.student_repo, settings.student_ref), path
        assert f'REPO_URL, REPO_REF = "{settings.student_repo}", "{settings.student_ref}"' in first
    readme = files["README.md"].decode()
    links = list(COLAB_LINK.finditer(readme))
    assert sorted(m["notebook"] for m in links) == sorted(notebooks)  # one badge per notebook, no other
    for link in links:
        assert (link["slug"], link["ref"]) == (colab.github_slug(settings.student_repo), settings.student_ref)
    assert f"git clone {settings.student_repo} " in readme
    assert instructor_repo_mentions(tree, settings.repo) == []


def test_exported_notebooks_and_readme_point_at_the_student_repository(exported):
    assert_points_at_student_repo(exported, colab.read_settings())


def test_a_changed_setting_reaches_the_export(tmp_path):
    root = copy_of_instructor_repo(tmp_path)
    colab.write_settings(
        root / "pyproject.toml",
        repo="https://github.com/staff/private-course",
        ref="main",
        student_repo="https://github.com/course/public-course",
        student_ref="2027-spring",
    )
    colab.rewrite(root=root)
    release.release(root=root)
    export(tmp_path / "out", ["hw0", "hw1"], root=root)
    settings = colab.read_settings(root / "pyproject.toml")
    assert_points_at_student_repo(tmp_path / "out", settings)
    assert (
        "github/course/public-course/blob/2027-spring/lectures/01_pushforward.ipynb"
        in (tmp_path / "out" / "README.md").read_text()
    )
