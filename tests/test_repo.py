"""Repository hygiene: notebooks committed without outputs, CI runs README's test command, data not committed."""

import json
import re

from utils.colab import notebooks
from utils.config import REPO_ROOT


def test_notebooks_are_committed_without_outputs_and_with_unique_ids():
    for path in notebooks():
        nb = json.loads(path.read_text())
        ids = [c["id"] for c in nb["cells"]]
        assert len(ids) == len(set(ids)), f"{path}: duplicate cell ids"
        for c in nb["cells"]:
            if c["cell_type"] == "code":
                assert c["outputs"] == [] and c["execution_count"] is None, f"{path}: strip outputs of {c['id']}"


def test_ci_runs_the_test_command_from_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"<!-- test-command -->\s*```(?:bash)?\n(.+?)\n```", readme, re.S)
    assert match, "README.md must show the test command after <!-- test-command -->"
    command = match[1].strip().splitlines()[-1]
    assert command in (REPO_ROOT / ".ci" / "run").read_text().splitlines()


def test_datasets_are_ignored_by_git():
    assert "data/" in (REPO_ROOT / ".gitignore").read_text().split()
