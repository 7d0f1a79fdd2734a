"""Variant self-check: rewrite every reference the way a model might, and grade the rewrite.

    PYTHONPATH=. python perf/grading_variants.py math500 minerva_math olympiadbench

Rewrites: `\\dfrac` for `\\frac`, an `x = ` prefix, spaces between tokens (no macros),
`$...$`, a trailing period, `\\left(`/`\\right)`, fractions as decimals and as `a/b`, integers as
`n.0` and `\\text{n}`, `\\sqrt {`. Prints every miss and the totals.
"""
import os
import re
import sys
from fractions import Fraction
from pathlib import Path

from capability_tests.benchmarks import load_problems
from capability_tests.grading import grade


def variants(a):
    out = []
    out.append(a.replace("\\frac", "\\dfrac"))
    if "=" not in a: out.append("x = " + a)
    # spaces between the tokens, never inside a number (`5 6` is two numbers, not 56)
    out.append(" ".join(re.findall(r"\d+(?:\.\d+)?|\S", a))) if "\\" not in a else None
    out.append("$" + a + "$")
    out.append(a + ".")
    out.append(a.replace("(", "\\left(").replace(")", "\\right)") if "\\left" not in a else a)
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", a)
    if m:
        f = Fraction(int(m.group(2)), int(m.group(3)))
        d = f.denominator
        while d % 2 == 0: d //= 2
        while d % 5 == 0: d //= 5
        if d == 1: out.append(m.group(1) + str(float(f)))
        out.append(f"{m.group(1)}{m.group(2)}/{m.group(3)}")
    if re.fullmatch(r"\d+", a): out.append(a + ".0"); out.append("\\text{" + a + "}")
    out.append(a.replace("\\sqrt{", "\\sqrt {"))
    return [o for o in out if o]
bad = 0; n = 0
for b in sys.argv[1:]:
    for p in load_problems(b, Path(os.environ.get("DATA_DIR", "/work/shared/benchmarks"))):
        refs = p.meta.get("final_answer") and [", ".join(p.meta["final_answer"])] or [p.answer]
        for v in variants(refs[0]):
            n += 1
            r = grade("so \\boxed{" + v + "}", p)
            if not r.correct:
                bad += 1
                print(p.key, "|", refs[0][:70], "|", v[:70], "|", r.reason)
print(bad, n)
