r"""Compare two parsed answer values: numbers, expressions and the structures of `latex_parse.py`.

* numbers: exactly (rationals) or within the tolerance the problem's grading policy declares
  (`GradingPolicy.tolerance_for`), never looser than numeric noise;
* expressions with symbols: equal at several fixed sample points (a polynomial-identity style
  test, 1e-9 relative), falling back to `sympy.simplify(a - b) == 0` when the points give no
  verdict; equations up to a constant factor (`proportional`);
* structures: tuples and intervals element by element (`(2,4)` is not `(2,4]`), sets and unions
  as unordered multisets, matrices by shape and entries, ratios in order; a one-variable
  inequality (or a chain around one function value) as the interval it describes (`3 < x < 9`
  is `(3, 9)`, `-x > -4` is `x < 4`, `0 < f(x) < 1` is `(0, 1)`).

`equivalence.py` turns answer texts into these values; the caller bounds the time.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from capability_tests.grading.latex_parse import (
    Matrix,
    ParseError,
    Relation,
    Seq,
    Union,
    Unsafe,
    parse_latex,
)
from capability_tests.grading.policy import EXACT, Tolerance

MAX_ITEMS = 64
_NUMERIC_NOISE = 1e-12  # relative: two exact values evaluated to 30 digits


@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str) -> Any:
    try:
        return parse_latex(text)
    except Unsafe as exc:
        return Unsafe(str(exc))
    except (ParseError, TypeError, ValueError, ZeroDivisionError, AttributeError,
            RecursionError, sympy.SympifyError) as exc:
        return ParseError(str(exc))


def parse(text: str) -> Any:
    value = _parse_cached(text)
    if isinstance(value, ParseError):
        raise value
    return value


# -- scalar comparison ----------------------------------------------------------------------------

_POINTS = (
    (0.5377, 1.8339, -2.2588, 0.8622, 0.3188, -1.3077, -0.4336, 0.3426),
    (1.2134, 0.7254, 2.5855, -0.0631, 0.7147, -0.2050, -0.1241, 1.4897),
    (2.9090, 1.4172, 0.6715, -1.2075, 0.7172, 1.6302, 0.4889, 1.0347),
    (0.2939, -0.7873, 0.8884, -1.1471, -1.0689, -0.8095, -2.9443, 1.4384),
    (3.3199, 0.3252, -0.7549, 1.3703, -1.7115, -0.1022, -0.2414, 0.3192),
)


def _num(expr: sympy.Expr, subs: dict | None = None) -> complex | None:
    try:
        value = expr.evalf(30, subs=subs) if subs else expr.evalf(30)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return None
    if not value.is_number:
        return None
    try:
        c = complex(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(c.real) or math.isnan(c.imag) or math.isinf(c.real) or math.isinf(c.imag):
        return None
    if c == 0 and value != 0:
        return None  # underflowed out of double range: not comparable as a float
    return c


def _close(got: complex, want: complex, rel: float) -> bool:
    scale = max(abs(want), abs(got))
    if scale == 0:
        return True
    return abs(got - want) <= rel * max(abs(want), 1e-300) or abs(got - want) <= 1e-28 * scale


def scalar_equal(got: sympy.Expr, want: sympy.Expr, tol: Tolerance) -> bool:
    if got == want:
        return True
    if got.is_Rational and want.is_Rational and tol.exact:
        return False
    if got.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) or want.has(
        sympy.oo, -sympy.oo, sympy.zoo, sympy.nan
    ):
        return False
    if got.has(sympy.Sum, sympy.Product) or want.has(sympy.Sum, sympy.Product):
        return False  # an unevaluated sum is equal only as written (above), never at sample points
    free = got.free_symbols | want.free_symbols
    if not free:
        g, w = _num(got), _num(want)
        if g is None or w is None:
            return False
        return _close(g, w, max(tol.relative, _NUMERIC_NOISE)) or abs(g - w) <= tol.absolute
    if got.free_symbols != want.free_symbols:
        return False
    symbols = sorted(free, key=lambda s: s.name)
    if len(symbols) > len(_POINTS[0]):
        return _symbolic_zero(got - want)
    agree = 0
    for point in _POINTS:
        subs = {s: sympy.Float(v, 30) for s, v in zip(symbols, point)}
        g, w = _num(got, subs), _num(want, subs)
        if g is None or w is None:
            continue
        if not _close(g, w, 1e-9):
            return False
        agree += 1
    if agree >= 3:
        return True
    return _symbolic_zero(got - want)


def _symbolic_zero(diff: sympy.Expr) -> bool:
    try:
        return sympy.simplify(diff) == 0
    except (TypeError, ValueError, AttributeError, RecursionError, ZeroDivisionError):
        return False


# -- structures -------------------------------------------------------------------------------------

def _unordered(got: list[Any], want: list[Any], tol: Tolerance) -> bool:
    if len(got) != len(want) or len(got) > MAX_ITEMS:
        return False
    used = [False] * len(got)
    for w in want:
        for j, g in enumerate(got):
            if not used[j] and values_equal(g, w, tol):
                used[j] = True
                break
        else:
            return False
    return True


def _name_like(value: Any) -> bool:
    return isinstance(value, sympy.Symbol) or (
        isinstance(value, sympy.Expr) and isinstance(value, sympy.Function)
    ) or (isinstance(value, sympy.Mul) and len(value.free_symbols) <= 2 and not value.is_number
          and all(isinstance(a, sympy.Symbol) for a in value.args))


def values_equal(got: Any, want: Any, tol: Tolerance) -> bool:
    if isinstance(want, Relation) or isinstance(got, Relation):
        return _relations_equal(got, want, tol)
    if isinstance(want, Seq) or isinstance(got, Seq):
        if isinstance(got, Matrix) or isinstance(want, Matrix):
            return _matrix_vs_seq(got, want, tol)
        if not (isinstance(got, Seq) and isinstance(want, Seq)):
            return False
        if want.kind in ("{}", ",") or got.kind in ("{}", ","):
            if {want.kind, got.kind} - {"{}", ","}:
                return False
            return _unordered(list(got.items), list(want.items), tol)
        if got.kind != want.kind or len(got.items) != len(want.items):
            return False
        return all(values_equal(g, w, tol) for g, w in zip(got.items, want.items))
    if isinstance(want, Union) or isinstance(got, Union):
        if not (isinstance(got, Union) and isinstance(want, Union)):
            return False
        return _unordered(list(got.parts), list(want.parts), tol)
    if isinstance(want, Matrix) or isinstance(got, Matrix):
        if not (isinstance(got, Matrix) and isinstance(want, Matrix)):
            return False
        if len(got.rows) != len(want.rows) or len(got.rows[0]) != len(want.rows[0]):
            return False
        return all(
            values_equal(g, w, tol)
            for gr, wr in zip(got.rows, want.rows)
            for g, w in zip(gr, wr)
        )
    if isinstance(got, sympy.Expr) and isinstance(want, sympy.Expr):
        return scalar_equal(got, want, tol)
    return False


def _matrix_vs_seq(got: Any, want: Any, tol: Tolerance) -> bool:
    """A column vector written as a tuple `(1, 2, 3)` equals the matrix with that column."""
    matrix, seq = (got, want) if isinstance(got, Matrix) else (want, got)
    if not isinstance(seq, Seq) or seq.kind != "()" or not isinstance(matrix, Matrix):
        return False
    column = [row[0] for row in matrix.rows if len(row) == 1]
    if len(column) != len(matrix.rows) or len(column) != len(seq.items):
        return False
    return all(values_equal(a, b, tol) for a, b in zip(column, seq.items))


_LOWER = {"<": "(", "<=": "["}
_UPPER = {"<": ")", "<=": "]"}
_REVERSED = {">": "<", ">=": "<="}


def _linear_bound(rel: Relation) -> tuple[sympy.Symbol, str, sympy.Expr] | None:
    """`-x > -4` as (x, "<", 4): a linear inequality in one variable, solved for it."""
    if rel.op not in ("<", "<=", ">", ">=") or not all(
        isinstance(v, sympy.Expr) for v in (rel.lhs, rel.rhs)
    ):
        return None
    diff = rel.lhs - rel.rhs
    # `f(x) > 0`: a function value is the unknown (as a name, so that x alone is not)
    diff = diff.xreplace({f: sympy.Symbol(str(f)) for f in diff.atoms(AppliedUndef)})
    free = diff.free_symbols
    if len(free) != 1:
        return None
    x = next(iter(free))
    slope = diff.diff(x)
    if not slope.is_number or slope == 0 or not slope.is_real:
        return None
    bound = -(diff - slope * x)
    if bound.free_symbols:
        return None
    op = rel.op
    if slope.is_negative:  # dividing by a negative number turns the inequality round
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
    return x, op, bound / slope


def as_interval(rel: Relation) -> tuple[sympy.Symbol, Seq] | None:
    r"""The set a one-variable inequality describes: `3 < x < 9` is (3, 9), `x \geq 2` is [2, oo)."""
    if isinstance(rel.rhs, Relation) and isinstance(rel.rhs.lhs, (sympy.Symbol, AppliedUndef)):
        inner = rel.rhs
        x = inner.lhs
        a, op1, op2, b = rel.lhs, rel.op, inner.op, inner.rhs
        if op1 in _REVERSED and op2 in _REVERSED:
            a, op1, op2, b = b, _REVERSED[op2], _REVERSED[op1], a
        if op1 in _LOWER and op2 in _LOWER and not isinstance(b, Relation) and all(
            isinstance(v, sympy.Expr) and not v.free_symbols for v in (a, b)
        ):
            return x, Seq(_LOWER[op1] + _UPPER[op2], (a, b))
        return None
    bound = _linear_bound(rel)
    if bound is None:
        return None
    x, op, c = bound
    if op in _UPPER:
        return x, Seq("(" + _UPPER[op], (-sympy.oo, c))
    return x, Seq(_LOWER[_REVERSED[op]] + ")", (c, sympy.oo))


def intervals_equal(got: Seq, want: Seq) -> bool:
    """Interval ends compared exactly (infinite ends by identity)."""
    if got.kind != want.kind or len(got.items) != 2 or len(want.items) != 2:
        return False
    for g, w in zip(got.items, want.items):
        if g.has(sympy.oo, -sympy.oo) or w.has(sympy.oo, -sympy.oo):
            if g != w:
                return False
        elif not scalar_equal(g, w, EXACT):
            return False
    return True


def _relations_equal(got: Any, want: Any, tol: Tolerance) -> bool:
    got_set = as_interval(got) if isinstance(got, Relation) else None
    want_set = as_interval(want) if isinstance(want, Relation) else None
    if got_set and want_set:
        return got_set[0] == want_set[0] and intervals_equal(got_set[1], want_set[1])
    if got_set and isinstance(want, Seq):
        return intervals_equal(got_set[1], want)
    if want_set and isinstance(got, Seq):
        return intervals_equal(got, want_set[1])
    if isinstance(got, Relation) and isinstance(want, Relation):
        flips = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
        if got.op == want.op and values_equal(got.lhs, want.lhs, tol) and values_equal(
            got.rhs, want.rhs, tol
        ):
            return True
        if flips.get(got.op) == want.op and values_equal(got.lhs, want.rhs, tol) and values_equal(
            got.rhs, want.lhs, tol
        ):
            return True
        if got.op == want.op == "=" and all(
            isinstance(v, sympy.Expr) for v in (got.lhs, got.rhs, want.lhs, want.rhs)
        ):
            return proportional(got.lhs - got.rhs, want.lhs - want.rhs)
        return False
    relation, other = (got, want) if isinstance(got, Relation) else (want, got)
    if relation.op == "=" and not isinstance(other, Relation):
        # `y = 2x + 3` against `2x + 3`, `6 = y` against `6`: the value the name is given
        if _name_like(relation.lhs):
            return values_equal(relation.rhs, other, tol)
        if _name_like(relation.rhs):
            return values_equal(relation.lhs, other, tol)
    return False


def proportional(a: sympy.Expr, b: sympy.Expr) -> bool:
    """`a = 0` and `b = 0` are the same equation: a = c*b for a nonzero constant c."""
    if a == 0 or b == 0:
        return a == b
    free = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not free or len(free) > len(_POINTS[0]):
        return False
    ratio = None
    agree = 0
    for point in _POINTS:
        subs = {s: sympy.Float(v, 30) for s, v in zip(free, point)}
        x, y = _num(a, subs), _num(b, subs)
        if x is None or y is None or y == 0:
            continue
        r = x / y
        if ratio is None:
            if r == 0:
                return False
            ratio = r
        elif not _close(r, ratio, 1e-9):
            return False
        agree += 1
    return agree >= 3
