r"""Decide whether an extracted answer equals a problem's reference answer.

From cheap to expensive:

1. normalised strings equal (`normalise.py`);
2. both sides parsed by the safe parser (`latex_parse.py`) and compared as values
   (`compare_values.py`: numbers within the policy's tolerance, expressions at sample points,
   tuples, intervals, sets, matrices, equations, inequalities as intervals);
3. lists of answers (OlympiadBench `is_multiple_answer`, MATH `1,-2`, `3 \pm 2\sqrt2`) as
   unordered multisets of items; answer forms that need both texts (a list of inequalities as a
   union, equations of one curve, labelled values as a tuple, assignment lists as tuples).

The caller (`grader.py`) bounds the wall-clock time of all of this.
"""

from __future__ import annotations

import sympy

from capability_tests.grading.compare_values import (
    MAX_ITEMS,
    as_interval,
    intervals_equal,
    parse,
    proportional,
    scalar_equal,
    values_equal,
)
from capability_tests.grading.latex_parse import ParseError, Relation, Seq, Union
from capability_tests.grading.normalise import (
    Normalised,
    expand_pm,
    labelled_value,
    normalise,
    reference_parts,
    split_answer_list,
)
from capability_tests.grading.policy import Tolerance
from capability_tests.problems import Problem

# -- answers ----------------------------------------------------------------------------------------

def _items(norm: Normalised) -> list[str]:
    items: list[str] = []
    for item in split_answer_list(norm.math):
        items.extend(expand_pm(item))
    return items


def _item_equal(got: str, want: str, tol: Tolerance, percent_shift: int) -> bool:
    g = normalise(got)
    w = normalise(want)
    if g.key == w.key:
        return True
    try:
        gv = parse(g.math)
        wv = parse(w.math)
    except ParseError:
        return False
    if values_equal(gv, wv, tol):
        return True
    if percent_shift and isinstance(gv, sympy.Expr) and isinstance(wv, sympy.Expr):
        scale = sympy.Integer(100) ** percent_shift
        return scalar_equal(gv * scale, wv, tol)
    return False


def _union_equal(items: list[str], reference: str) -> bool:
    r"""`x < 2 \text{ or } x > 3` against `(-\infty, 2) \cup (3, \infty)`."""
    parts = []
    variables = set()
    for item in items:
        try:
            value = parse(normalise(item).math)
        except ParseError:
            return False
        found = as_interval(value) if isinstance(value, Relation) else None
        if found is None:
            return False
        variables.add(found[0])
        parts.append(found[1])
    if len(variables) != 1:
        return False
    try:
        want = parse(normalise(reference).math)
    except ParseError:
        return False
    if not isinstance(want, Union) or len(want.parts) != len(parts):
        return False
    used = [False] * len(parts)
    for w in want.parts:
        for j, g in enumerate(parts):
            if not used[j] and isinstance(w, Seq) and intervals_equal(g, w):
                used[j] = True
                break
        else:
            return False
    return True


def reference_of(problem: Problem) -> tuple[list[str], bool, str | None]:
    """(reference answers, whether they form an unordered list, unit)."""
    meta = problem.meta or {}
    policy = problem.policy
    unit = meta.get(policy.unit_field) if policy.unit_field else None
    unit = unit if isinstance(unit, str) else None
    listed = meta.get(policy.reference_list_field) if policy.reference_list_field else None
    if isinstance(listed, list):
        parts = reference_parts(list(listed))
        multi = (bool(meta.get(policy.multiple_answer_field)) if policy.multiple_answer_field
                 else False) or len(parts) > 1
        return parts or [problem.answer], multi, unit
    return [problem.answer], False, unit


def reference_is_list(problem: Problem) -> bool:
    """The reference has several answers (`-3, 5`, OlympiadBench `is_multiple_answer`)."""
    refs, multi, unit = reference_of(problem)
    if len(refs) > 1:
        return True
    return len(_items(normalise(refs[0], unit=unit, thousands=not multi))) > 1


def reference_tuple_size(problem: Problem) -> int:
    """Entries of a reference that is one parenthesised tuple (`(2, 7)`), else 0."""
    refs, _, unit = reference_of(problem)
    if len(refs) != 1:
        return 0
    try:
        value = parse(normalise(refs[0], unit=unit).math)
    except ParseError:
        return 0
    return len(value.items) if isinstance(value, Seq) and value.kind == "()" else 0


def _same_curve(got: str, want: str, unit: str | None) -> bool:
    """`y = -\\frac{1}{2}x + \\frac{3}{4}` and `2x + 4y - 3 = 0`: two equations in the same two
    or more unknowns, equal up to a nonzero constant factor (a `y =` here is part of the equation,
    not a label to drop)."""
    if got.count("=") != 1 or want.count("=") != 1:
        return False
    try:
        g = parse(normalise(got, unit=unit, keep_labels=True).math)
        w = parse(normalise(want, unit=unit, keep_labels=True).math)
    except ParseError:
        return False
    if not (isinstance(g, Relation) and isinstance(w, Relation) and g.op == w.op == "="):
        return False
    sides = (g.lhs, g.rhs, w.lhs, w.rhs)
    if not all(isinstance(v, sympy.Expr) for v in sides):
        return False
    free = (g.lhs - g.rhs).free_symbols
    if len(free) < 2 or free != (w.lhs - w.rhs).free_symbols:
        return False
    return proportional(g.lhs - g.rhs, w.lhs - w.rhs)


def assignment_tuples(text: str) -> str | None:
    """`p=5, q=2; p=7, q=2` -> `(5, 2), (7, 2)`: groups separated by `;`, each assigning the same
    names in the same order, read as the tuples of their values; else None."""
    if ";" not in text:
        return None
    groups = [g.strip() for g in text.split(";")]
    tuples, names = [], None
    for group in groups:
        items = [i.strip() for i in group.split(",")]
        values = [labelled_value(i) for i in items]
        if len(items) < 2 or not all(values):
            return None
        labels = [i.split("=", 1)[0].replace(" ", "") for i in items]
        if names is None:
            names = labels
        elif labels != names or len(set(labels)) != len(labels):
            return None
        tuples.append("(" + ", ".join(values) + ")")
    return ", ".join(tuples) if len(tuples) > 1 else None


def answers_match(extracted: str, problem: Problem) -> tuple[bool, str]:
    assigned = assignment_tuples(extracted)
    if assigned is not None:
        same, reason = answers_match(assigned, problem)
        if same:
            return True, f"{reason} (assignments read as tuples)"
    refs, multi, unit = reference_of(problem)
    ref_norms = [normalise(r, unit=unit, thousands=not multi) for r in refs]
    ref_items: list[str] = []
    for n in ref_norms:
        ref_items.extend(_items(n))
    got_norm = normalise(extracted, unit=unit, thousands=len(ref_items) == 1)
    if got_norm.key == ",".join(n.key for n in ref_norms):
        return True, "equal as text"
    got_items = _items(got_norm)
    if not got_items or not ref_items:
        return False, "empty answer"
    if len(got_items) > MAX_ITEMS:
        return False, f"more than {MAX_ITEMS} answers"
    percent_shift = 0
    want_percent = any(n.percent for n in ref_norms)
    if got_norm.percent and not want_percent:
        percent_shift = -1
    elif want_percent and not got_norm.percent:
        percent_shift = 1
    reference_text = ref_items[0] if len(ref_items) == 1 else ""
    # per-item written precision is rare in lists: they get the declared tolerance alone
    tol = problem.policy.tolerance_for(normalise(reference_text).math if reference_text else "")
    if len(got_items) != len(ref_items):
        if len(ref_items) == 1 and len(got_items) > 1:
            # "(1, 2)" written without brackets is still a list; compare as one value too
            if _item_equal(got_norm.math, ref_items[0], tol, percent_shift):
                return True, "equal"
            # "a = 2, b = 7" for the reference "(2, 7)": the values in the order written
            values = [labelled_value(item) for item in got_items]
            if all(values) and _item_equal("(" + ", ".join(values) + ")", ref_items[0], tol, 0):
                return True, "equal as a labelled tuple"
            # "x < 2 or x > 3" is the union of the intervals it describes
            if _union_equal(got_items, ref_items[0]):
                return True, "equal as a union of intervals"
        return False, f"{len(got_items)} answers where the reference has {len(ref_items)}"
    if len(ref_items) == 1:
        same = _item_equal(got_items[0], ref_items[0], tol, percent_shift)
        if not same and _same_curve(extracted, refs[0], unit):
            return True, "equal as equations"
        return same, "equal" if same else "different"
    if problem.policy.lists == "ordered":
        for got, want in zip(got_items, ref_items):
            if not _item_equal(got, want, tol, percent_shift):
                return False, f"reference item {want!r} not in its place in the answer"
        return True, "equal as ordered list"
    used = [False] * len(got_items)
    for want in ref_items:
        for j, got in enumerate(got_items):
            if not used[j] and _item_equal(got, want, tol, percent_shift):
                used[j] = True
                break
        else:
            return False, f"reference item {want!r} not in the answer"
    return True, "equal as unordered list"
