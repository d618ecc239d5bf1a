"""Emit the MUTANTS / VARIANTS literal of tests/test_grade_hw2.py from the parts' mutant files."""
import sys, textwrap
CHOICE = {  # answer id -> indices of the 3 mutants kept
    "q7a-code": [0, 1, 3], "q7b-code": [1, 2, 6],
}
files = sys.argv[1:]


def split(text, width=90):
    parts = [text[i : i + width] for i in range(0, len(text), width)] or [""]
    return "\n         ".join(repr(p) for p in parts)

mutants, variants = {}, {}
for f in files:
    ns = {}
    exec(open(f).read(), ns)
    for a, ms in ns["MUTANTS"].items():
        mutants[a] = [ms[i] for i in CHOICE.get(a, range(3))]
    for a, vs in ns.get("VARIANTS", {}).items():
        variants[a] = vs
out = ["MUTANTS = {"]
for a, ms in mutants.items():
    out.append(f"    {a!r}: [")
    for d, o, n in ms:
        out.append("        (" + ",\n         ".join(split(x) for x in (d, o, n)) + "),")
    out.append("    ],")
out.append("}  # fmt: skip")
out.append("")
out.append("# Correct answers written another way (other formulas, torch.distributions, loops, other orders): each must")
out.append("# score 100. variant-k holds the k-th variant of every answer cell that has one.")
out.append("VARIANTS = {")
for k in range(2):
    out.append(f"    'variant-{'ab'[k]}': {{")
    for a, vs in variants.items():
        if k < len(vs):
            body = textwrap.indent(textwrap.dedent(vs[k]).strip("\n"), " " * 12)
            q = "\'\'\'" if '"""' in body else '"""'
            out.append(f"        {a!r}: hostile.code({q}\n{body}\n        {q}),")
    out.append("    },")
out.append("}")
print("\n".join(out))
