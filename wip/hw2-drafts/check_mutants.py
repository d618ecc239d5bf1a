"""Check mutants and variants of one part, in smoke mode (a drafting aid; the real test is the grader's).

python check_mutants.py PART.py MUTANTS.py
MUTANTS.py defines MUTANTS = {answer id: [(description, old, new), ...]} and optionally
VARIANTS = {answer id: [source of a whole correct answer cell, ...]} (solution markers not needed).
For the reference and every mutant/variant it prints, per graded cell of the part, PASS or the reasons it fails.
A mutant must fail its own graded cell (the cell numbered like its answer) and pass every other one of the part
(training-result cells excepted); a variant must pass all.
"""
import copy, re, sys, time, traceback
sys.path.insert(0, "/work/main"); sys.path.insert(0, "/tmp/hw2")
import numpy as np
import torch
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import utils.graded
from build import parse
from scipy.stats import ks_2samp

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def strip_markers(text):
    return "\n".join(l for l in text.split("\n") if l.strip() not in MARKERS)


def run(cells, base_ns):
    ns = dict(base_ns)
    results, current = {}, [None]

    def report(name, value, compare="close", rtol=1e-5, atol=1e-8, alpha=1e-3, bound=None):
        value = np.asarray(torch.as_tensor(value).detach().double().cpu().numpy() if torch.is_tensor(value) else value,
                           dtype=np.float64)
        results.setdefault(current[0], {"values": {}, "error": None})["values"][name] = (value, compare, rtol, atol, alpha, bound)

    ns["report"] = report
    for c in cells:
        if c["md"]:
            continue
        cid = c["attrs"].get("id", "?")
        graded = "graded" in c["flags"]
        current[0] = cid
        if graded:
            results.setdefault(cid, {"values": {}, "error": None})
        try:
            exec(compile(strip_markers("\n".join(c["lines"])).replace("from utils.graded import report", ""), cid, "exec"), ns)
        except Exception as e:  # noqa
            if graded:
                results[cid]["error"] = f"{type(e).__name__}: {str(e)[:150]}"
            else:
                results.setdefault(cid, {"values": {}, "error": None})["error"] = f"{type(e).__name__}: {str(e)[:150]}"
        plt.close("all")
    return results


def compare(ref, got):
    reasons = []
    if got.get("error"):
        return [got["error"]]
    for name, (value, cmp, rtol, atol, alpha, bound) in ref["values"].items():
        if name not in got["values"]:
            reasons.append(f"{name}: missing"); continue
        g = got["values"][name][0]
        if cmp == "at_most":
            if g.size != 1 or not np.isfinite(g).all() or g.item() > bound:
                reasons.append(f"{name}: {g} above {bound}")
        elif cmp == "distribution":
            p = ks_2samp(g.ravel(), value.ravel()).pvalue
            if p <= alpha:
                reasons.append(f"{name}: KS p={p:.2g}")
        else:
            if g.shape != value.shape:
                reasons.append(f"{name}: shape {g.shape} vs {value.shape}")
            elif not np.allclose(g, value, rtol=rtol, atol=atol):
                reasons.append(f"{name}: max diff {np.max(np.abs(g - value)):.3g}")
    return reasons


def main(part, mutants_file):
    spec = {}
    exec(open(mutants_file).read(), spec)
    mutants, variants = spec["MUTANTS"], spec.get("VARIANTS", {})
    base = {"__name__": "__main__"}
    base["report"] = lambda *a, **k: None
    for c in parse("/tmp/hw2/part0.py"):
        if not c["md"]:
            exec("\n".join(c["lines"]).replace("from utils.graded import report", ""), base)
    cells = parse(part)
    graded_ids = [c["attrs"]["id"] for c in cells if "graded" in c["flags"]]
    t = time.time()
    reference = run(cells, base)
    print(f"reference ({time.time() - t:.1f} s):")
    for cid, r in reference.items():
        if r["error"]:
            print(f"  ERROR in {cid}: {r['error']}")
    for g in graded_ids:
        print(f"  {g}: {len(reference[g]['values'])} values reported")
    cases = [(f"mutant {a}[{k}] {d}", a, lambda src, o=o, n=n: src.replace(o, n, 1) if o in src else None)
             for a, ms in mutants.items() for k, (d, o, n) in enumerate(ms)]
    cases += [(f"variant {a}[{k}]", a, lambda src, v=v: v) for a, vs in variants.items() for k, v in enumerate(vs)]
    for label, answer_id, edit in cases:
        new_cells = copy.deepcopy(cells)
        cell = next(c for c in new_cells if c["attrs"].get("id") == answer_id)
        src = strip_markers("\n".join(cell["lines"]))
        new = edit(src)
        if new is None:
            print(f"{label}: DOES NOT APPLY"); continue
        cell["lines"] = new.split("\n")
        t = time.time()
        got = run(new_cells, base)
        verdicts = {g: compare(reference[g], got.get(g, {"values": {}, "error": "did not run"})) for g in graded_ids}
        failed = [g for g, r in verdicts.items() if r]
        print(f"{label} ({time.time() - t:.1f} s): fails {failed or 'NOTHING'}")
        for g in failed:
            print(f"    {g}: {verdicts[g][:3]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
