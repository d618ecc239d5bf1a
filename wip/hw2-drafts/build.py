"""Assemble solutions/hw2.ipynb from percent-format part files (a drafting aid; the notebook is the source).

Cell headers:  '# %% [markdown]'  '# %% [markdown] id=NAME'  '# %%'  '# %% id=NAME'
               '# %% answer id=q1-code'  '# %% [markdown] answer id=reflection'  '# %% graded id=q1 points=6'
"""
import json, re, sys
from pathlib import Path

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<rest>.*)$")


def parse(path):
    cells, current = [], None
    for line in Path(path).read_text().split("\n"):
        m = HEADER.match(line)
        if m:
            if current:
                cells.append(current)
            attrs = dict(kv.split("=", 1) for kv in m["rest"].split() if "=" in kv)
            flags = [w for w in m["rest"].split() if "=" not in w]
            current = {"md": bool(m["md"]), "attrs": attrs, "flags": flags, "lines": []}
        elif current is not None:
            current["lines"].append(line)
    if current:
        cells.append(current)
    return cells


def to_cell(c, index, prefix):
    text = "\n".join(c["lines"]).strip("\n")
    if c["md"]:  # markdown lines are written as comments: '# text', or '#' alone for an empty line
        text = "\n".join(line[2:] if line.startswith("# ") else line.removeprefix("#") for line in c["lines"])
        text = text.strip("\n")
    meta = {}
    cid = c["attrs"].get("id") or f"{prefix}-{index}"
    if "answer" in c["flags"]:
        meta = {"grader": {"id": cid, "kind": "answer"}}
    elif "graded" in c["flags"]:
        meta = {"grader": {"id": cid, "kind": "graded", "points": int(c["attrs"]["points"])}}
    cell = {"cell_type": "markdown" if c["md"] else "code", "id": cid, "metadata": meta,
            "source": text.splitlines(keepends=True)}
    if not c["md"]:
        cell |= {"execution_count": None, "outputs": []}
    return cell


def build(parts, out):
    hw1 = json.loads(Path("/work/main/solutions/hw1.ipynb").read_text())
    cells = [hw1["cells"][0]]
    for part in parts:
        prefix = Path(part).stem
        for i, c in enumerate(parse(part)):
            cells.append(to_cell(c, i, prefix))
    ids = [c["id"] for c in cells]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    nb = {"cells": cells, "metadata": hw1["metadata"], "nbformat": 4, "nbformat_minor": 5}
    sys.path.insert(0, "/work/main")
    from utils.colab import dump_notebook
    Path(out).write_text(dump_notebook(nb))


if __name__ == "__main__":
    build(sys.argv[2:], sys.argv[1])
