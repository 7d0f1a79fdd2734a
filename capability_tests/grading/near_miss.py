r"""Near misses: wrong answers close to a reference, each proven wrong by exact arithmetic.

pass@k at large k amplifies a grader's false positives, so the grader is measured on answers that
are *almost* right: off by one, sign flipped, digits transposed, a factor dropped, a tuple's entries
swapped, a unit scaled, a decimal truncated, a thousands separator misplaced, a list with one member
changed, an interval's end flipped. `near_misses(reference, benchmark)` rewrites the reference text
and keeps a rewrite only when `exact_value` (a small exact evaluator, independent of the grader)
proves it differs from the reference:

* numbers are sums of terms `c * sqrt(r) * pi^k` with rational `c` and square-free `r`; such sums
  are equal exactly when their terms are (square roots of distinct square-free integers are
  linearly independent over the rationals and pi is transcendental), so equality is decided
  exactly, never by floating point or by the grader under test;
* tuples and intervals compare in order with their brackets; top-level comma lists as multisets;
* on the benchmarks with a tolerance (Minerva, OlympiadBench) a rewrite is also dropped when it lies
  within the documented tolerance of the reference (it would be accepted on purpose).

Text the evaluator does not understand (symbols, functions, units it cannot strip) gives no near
misses: nothing is kept unless it is proven wrong. Used by `perf/grading_near_miss.py` and
by the property tests.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

from capability_tests.grading.equivalence import EXACT_BENCHMARKS, tolerance_for

# -- exact values ------------------------------------------------------------------------------------

Term = tuple[int, int]  # (square-free radicand, power of pi)
MAX_RADICAND = 10**7
MAX_POWER = 64


class NotExact(ValueError):
    """The text is outside what the exact evaluator reads."""


@dataclass(frozen=True)
class Number:
    """sum of c * sqrt(r) * pi**k; `terms` sorted, no zero coefficients."""

    terms: tuple[tuple[Term, Fraction], ...]

    @staticmethod
    def of(mapping: dict[Term, Fraction]) -> "Number":
        return Number(tuple(sorted((t, c) for t, c in mapping.items() if c != 0)))

    def as_dict(self) -> dict[Term, Fraction]:
        return dict(self.terms)

    def __add__(self, other: "Number") -> "Number":
        out = self.as_dict()
        for t, c in other.terms:
            out[t] = out.get(t, Fraction(0)) + c
        return Number.of(out)

    def __neg__(self) -> "Number":
        return Number(tuple((t, -c) for t, c in self.terms))

    def __mul__(self, other: "Number") -> "Number":
        out: dict[Term, Fraction] = {}
        for (r1, k1), c1 in self.terms:
            for (r2, k2), c2 in other.terms:
                square, free = _square_free(r1 * r2)
                t = (free, k1 + k2)
                out[t] = out.get(t, Fraction(0)) + c1 * c2 * square
        return Number.of(out)

    def inverse(self) -> "Number":
        if len(self.terms) != 1:
            raise NotExact("division by a sum")
        (r, k), c = self.terms[0]
        return Number.of({(r, -k): 1 / (c * r)})

    def rational(self) -> Fraction | None:
        if not self.terms:
            return Fraction(0)
        if len(self.terms) == 1 and self.terms[0][0] == (1, 0):
            return self.terms[0][1]
        return None

    def __float__(self) -> float:
        return sum((float(c) * math.sqrt(r) * math.pi**k for (r, k), c in self.terms), 0.0)


def _int(n: int) -> Number:
    return Number.of({(1, 0): Fraction(n)})


def _square_free(n: int) -> tuple[int, int]:
    """n = square**2 * free with free square-free: (square, free)."""
    if n > MAX_RADICAND:
        raise NotExact("radicand too large")
    square, free, p = 1, 1, 2
    while p * p <= n:
        while n % (p * p) == 0:
            n //= p * p
            square *= p
        if n % p == 0:
            n //= p
            free *= p
        p += 1
    return square, free * n


@dataclass(frozen=True)
class Tuple:
    brackets: str  # "()", "[]", "(]", "[)"
    items: tuple["Value", ...]


@dataclass(frozen=True)
class Items:
    """A top-level comma list: unordered."""

    items: tuple["Value", ...]


Value = Number | Tuple | Items

# -- the exact evaluator -------------------------------------------------------------------------------

_STRIP = re.compile(r"\\\$|\\left|\\right|\\[!,;: ]|\$|~|\\displaystyle")
_UNIT_TAIL = re.compile(
    r"\s*(?:\\(?:text|mbox|mathrm)\s*\{[^{}]*\}(?:\s*\^\s*\{?\d\}?)?|\^\s*\{?\\circ\}?|\\%|%)\s*$"
)
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+$")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ")
_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\\[a-zA-Z]+|\\\{|\\\}|[-+*/^(){}\[\],])")


def clean(text: str) -> str:
    """The reference as a model would write it: no `$`, `\\left`/`\\right`, thin spaces."""
    s = re.sub(r"\\[dt]frac", r"\\frac", text.strip())
    s = _STRIP.sub(" ", s)
    return re.sub(r"\s+", " ", s).strip().rstrip(".").strip()


def exact_value(text: str) -> Value:
    """The exact value of an answer, or NotExact."""
    s = clean(text)
    for _ in range(3):
        s = _UNIT_TAIL.sub("", s)
    s = _DEGREES.sub("", s)  # degree signs are no part of the value (the grader drops them too)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    tokens = _tokens(s)
    parser = _Exact(tokens)
    value = parser.top()
    if parser.i != len(tokens):
        raise NotExact("trailing text")
    return value


def _tokens(s: str) -> list[str]:
    out: list[str] = []
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            raise NotExact(f"unexpected {s[pos]!r}")
        tok = m.group(1)
        if out and tok[0].isdigit() and out[-1][0].isdigit():
            raise NotExact("two numbers side by side")
        out.append(tok)
        pos = m.end()
    if len(out) > 200:
        raise NotExact("too long")
    return out


class _Exact:
    def __init__(self, tokens: list[str]):
        self.t = tokens
        self.i = 0

    def peek(self, k: int = 0) -> str | None:
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise NotExact(f"expected {want!r}")
        self.i += 1
        return tok

    def top(self) -> Value:
        items = self.items(end=None)
        return items[0] if len(items) == 1 else Items(tuple(items))

    def items(self, end: set[str] | None) -> list[Value]:
        out = [self.item()]
        while self.peek() == ",":
            self.take()
            out.append(self.item())
        if end is not None and self.peek() not in end:
            raise NotExact("unclosed bracket")
        return out

    def item(self) -> Value:
        if self.peek() in ("(", "[", "\\{"):
            start = self.i
            opener = self.take()
            closers = {"\\}"} if opener == "\\{" else {")", "]"}
            inner = self.items(end=closers)
            closer = self.take()
            if self.peek() in (None, ","):
                if opener == "\\{":
                    return Items(tuple(inner))
                if len(inner) > 1:
                    return Tuple(opener + closer, tuple(inner))
            self.i = start  # a parenthesised factor: `(1+\sqrt2)/2`
        return self.expr()

    def expr(self) -> Number:
        sign = 1
        if self.peek() in ("+", "-"):
            sign = -1 if self.take() == "-" else 1
        value = self.term()
        value = -value if sign < 0 else value
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term()
            value = value + (-rhs if op == "-" else rhs)
        return value

    def term(self) -> Number:
        value = self.power()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                value = value * self.power()
            elif tok == "/":
                self.take()
                value = value * self.power().inverse()
            elif tok is not None and (tok[0].isdigit() or tok in ("(", "{", "\\sqrt", "\\pi")):
                value = value * self.power()
            elif tok == "\\frac":
                if self.peek(-1) and self.peek(-1)[0].isdigit():
                    raise NotExact("a mixed number")  # `1\frac{4}{5}` is 1 + 4/5
                value = value * self.power()
            else:
                return value

    def power(self) -> Number:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.group_or_digit().rational()
            if exponent is None or exponent.denominator != 1 or abs(exponent) > MAX_POWER:
                raise NotExact("exponent")
            n = int(exponent)
            result = _int(1)
            for _ in range(abs(n)):
                result = result * base
            base = result.inverse() if n < 0 else result
        return base

    def group_or_digit(self) -> Number:
        if self.peek() == "{":
            self.take()
            value = self.expr()
            self.take("}")
            return value
        tok = self.take()
        if tok.isdigit():
            value = _int(int(tok[0]))
            if len(tok) > 1:
                self.t.insert(self.i, tok[1:])  # `\frac12`, `x^23`
            return value
        if tok == "-" and self.peek() and self.peek().isdigit():
            return -self.group_or_digit()
        if tok == "\\pi":
            return Number.of({(1, 1): Fraction(1)})
        raise NotExact("macro argument")

    def atom(self) -> Number:
        tok = self.take()
        if tok[0].isdigit():
            mantissa, _, exp = tok.lower().partition("e")
            value = Fraction(mantissa)
            if exp:
                if abs(int(exp)) > 400:
                    raise NotExact("exponent")
                value *= Fraction(10) ** int(exp)
            return Number.of({(1, 0): value})
        if tok == "\\pi":
            return Number.of({(1, 1): Fraction(1)})
        if tok == "\\frac":
            num = self.group_or_digit()
            return num * self.group_or_digit().inverse()
        if tok == "\\sqrt":
            inner = self.group_or_digit().rational()
            if inner is None or inner < 0:
                raise NotExact("square root of a non-rational")
            square, free = _square_free(inner.numerator * inner.denominator)
            return Number.of({(free, 0): Fraction(square, inner.denominator)})
        if tok in ("(", "{"):
            value = self.expr()
            self.take(")" if tok == "(" else "}")
            return value
        raise NotExact(f"unsupported {tok!r}")


# -- comparing exactly --------------------------------------------------------------------------------

def _numbers_differ(a: Number, b: Number, tol: float) -> bool:
    if a == b:
        return False
    if tol == 0:
        return True
    ra, rb = a.rational(), b.rational()
    if ra is not None and rb is not None:
        return abs(ra - rb) > Fraction(tol) * Fraction(101, 100) * abs(rb)
    fa, fb = float(a), float(b)
    # a float check only on top of exact inequality, with a wide margin around the tolerance
    return abs(fa - fb) > (tol * 1.01 + 1e-12) * max(abs(fb), 1e-300)


def differs(got: Value, want: Value, tol: float = 0.0) -> bool:
    """True when `got` is certainly not `want` (exactly, and beyond the relative tolerance)."""
    if isinstance(got, Number) and isinstance(want, Number):
        return _numbers_differ(got, want, tol)
    if isinstance(got, Tuple) and isinstance(want, Tuple):
        if got.brackets != want.brackets or len(got.items) != len(want.items):
            return True
        return any(differs(g, w, tol) for g, w in zip(got.items, want.items))
    if isinstance(got, Items) and isinstance(want, Items):
        if len(got.items) != len(want.items):
            return True
        if len(want.items) > 6:
            raise NotExact("list too long to compare as a multiset")
        return all(
            any(differs(g, w, tol) for g, w in zip(order, want.items))
            for order in itertools.permutations(got.items)
        )
    return True  # a number is not a tuple or a list


# -- the rewrites ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NearMiss:
    text: str  # the wrong answer
    kind: str  # which rewrite made it


_LITERAL = re.compile(r"(?<![\d.^_])\d+(?:\.\d+)?(?![\d.])")
_NOT_A_NUMBER = {"thousands separator misplaced", "digits split by a space"}
_OFFSETS = (1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8, 9, -9, 10, -10, 11, -11, 12,
            -12, 20, -20, 50, -50, 100, -100, 1000, -1000)


def _splice(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _fmt(value: Fraction, decimals: int) -> str | None:
    """`value` written with `decimals` digits after the point, or None if it needs more."""
    scaled = value * 10**decimals
    if scaled.denominator != 1:
        return None
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled.numerator)).rjust(decimals + 1, "0")
    if decimals == 0:
        return sign + digits
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def _literal_rewrites(text: str) -> Iterator[NearMiss]:
    for m in _LITERAL.finditer(text):
        lit = m.group()
        decimals = len(lit.split(".")[1]) if "." in lit else 0
        value = Fraction(lit)
        unit = Fraction(1, 10**decimals)
        for k in _OFFSETS:
            new = _fmt(value + k * unit, decimals)
            if new is not None and not new.startswith("-"):
                yield NearMiss(_splice(text, m.start(), m.end(), new), f"off by {k}")
            new = _fmt(value + k, decimals)
            if decimals and new is not None and not new.startswith("-"):
                yield NearMiss(_splice(text, m.start(), m.end(), new), f"off by {k}")
        digits = lit.replace(".", "")
        for i in range(len(lit) - 1):
            a, b = lit[i], lit[i + 1]
            if a != b and a != "." and b != "." and not (i == 0 and b == "0" and len(digits) > 1):
                swapped = lit[:i] + b + a + lit[i + 2 :]
                yield NearMiss(_splice(text, m.start(), m.end(), swapped), "digits transposed")
        if decimals:
            for keep in range(decimals - 1, -1, -1):
                cut = lit[: len(lit) - decimals + keep] if keep else lit.split(".")[0]
                yield NearMiss(_splice(text, m.start(), m.end(), cut), "decimal truncated")
        else:
            n = int(lit)
            for p in (2, 3, 5, 7):
                if n > p and n % p == 0:
                    yield NearMiss(_splice(text, m.start(), m.end(), str(n // p)), "factor dropped")
            if len(lit) >= 4:
                for cut in range(1, len(lit)):
                    if (len(lit) - cut) % 3:
                        yield NearMiss(_splice(text, m.start(), m.end(), lit[:cut] + "," + lit[cut:]),
                                       "thousands separator misplaced")
                    else:  # a separator followed by a space: `45, 120` is a list of two numbers
                        yield NearMiss(_splice(text, m.start(), m.end(), lit[:cut] + ", " + lit[cut:]),
                                       "thousands separator misplaced")
        if len(digits) >= 2 and "." not in lit:
            for cut in range(1, len(lit)):  # `5 6` is two numbers, not 56 (`45 120` may be SI)
                if (len(lit) - cut) % 3:
                        yield NearMiss(_splice(text, m.start(), m.end(), lit[:cut] + " " + lit[cut:]),
                                   "digits split by a space")
        for factor, name in ((10, "x10"), (100, "x100"), (1000, "x1000"), (60, "x60")):
            for scaled in (value * factor, value / factor):
                for places in range(0, decimals + 7):
                    new = _fmt(scaled, places)
                    if new is not None:
                        yield NearMiss(_splice(text, m.start(), m.end(), new), f"unit scaled {name}")
                        break


_FACTOR_PATTERNS = (
    (re.compile(r"\\sqrt\s*\{[^{}]*\}|\\sqrt\s*\d"), "factor dropped (root)"),
    (re.compile(r"\\pi"), "factor dropped (pi)"),
    (re.compile(r"(?<![\d.^_{])\d+(?=\s*\\(?:sqrt|pi))"), "factor dropped (coefficient)"),
)
_FRAC = re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


def _factor_rewrites(text: str) -> Iterator[NearMiss]:
    for pattern, kind in _FACTOR_PATTERNS:
        for m in pattern.finditer(text):
            new = _splice(text, m.start(), m.end(), "").strip()
            new = re.sub(r"\{\s*\}", "{1}", new)
            if new and new not in "+-":
                yield NearMiss(new, kind)
    for m in _FRAC.finditer(text):
        num, den = m.group(1).strip(), m.group(2).strip()
        yield NearMiss(_splice(text, m.start(), m.end(), "{" + num + "}"), "factor dropped (denominator)")
        yield NearMiss(_splice(text, m.start(), m.end(), rf"\frac{{1}}{{{den}}}"),
                       "factor dropped (numerator)")
        yield NearMiss(_splice(text, m.start(), m.end(), rf"\frac{{{den}}}{{{num}}}"), "reciprocal")


def _top_level_commas(text: str) -> list[int]:
    depth, out = 0, []
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("\\{", i) or text.startswith("\\}", i):
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(i)
        i += 1
    return out


def _split(text: str) -> list[str]:
    cuts = _top_level_commas(text)
    bounds = [-1, *cuts, len(text)]
    return [text[bounds[j] + 1 : bounds[j + 1]].strip() for j in range(len(bounds) - 1)]


def _structure_rewrites(text: str) -> Iterator[NearMiss]:
    s = text.strip()
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and not _top_level_commas(s):
        inner = _split(s[1:-1])
        if len(inner) > 1:
            for i, j in itertools.combinations(range(len(inner)), 2):
                swapped = list(inner)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                yield NearMiss(s[0] + ", ".join(swapped) + s[-1], "tuple entries swapped")
            for opener, closer in itertools.product("([", ")]"):
                if opener + closer != s[0] + s[-1]:
                    yield NearMiss(opener + s[1:-1] + closer, "bracket changed")
            for k, item in enumerate(inner):
                for miss in itertools.islice(_scalar_rewrites(item), 6):
                    changed = list(inner)
                    changed[k] = miss.text
                    yield NearMiss(s[0] + ", ".join(changed) + s[-1], f"tuple entry {miss.kind}")
    items = _split(s)
    if len(items) > 1:
        for k, item in enumerate(items):
            for miss in itertools.islice(_scalar_rewrites(item), 8):
                changed = list(items)
                changed[k] = miss.text
                yield NearMiss(", ".join(changed), f"list member {miss.kind}")
        yield NearMiss(", ".join(items[:-1]), "list member dropped")


def _scalar_rewrites(text: str) -> Iterator[NearMiss]:
    if text.startswith("-"):
        yield NearMiss(text[1:].strip(), "sign flipped")
    else:
        yield NearMiss("-" + text, "sign flipped")
    yield from _literal_rewrites(text)
    yield from _factor_rewrites(text)


def near_misses(reference: str, benchmark: str, limit: int = 400) -> list[NearMiss]:
    """Distinct rewrites of `reference` that are proven wrong for `benchmark` (at most `limit`)."""
    try:
        want = exact_value(reference)
    except (NotExact, ZeroDivisionError, ValueError, OverflowError):
        return []
    text = clean(reference)
    tol = 0.0 if benchmark in EXACT_BENCHMARKS else tolerance_for(benchmark, text)
    if isinstance(want, (Items, Tuple)) and benchmark not in EXACT_BENCHMARKS:
        tol = tolerance_for(benchmark, "")
    candidates = itertools.chain(_structure_rewrites(text), _scalar_rewrites(text))
    out: list[NearMiss] = []
    seen = {text}
    for miss in candidates:
        if miss.text in seen or not miss.text.strip():
            continue
        seen.add(miss.text)
        try:
            got = exact_value(miss.text)
            wrong = differs(got, want, tol)
        except (NotExact, ZeroDivisionError, ValueError, OverflowError):
            if miss.kind not in _NOT_A_NUMBER:
                continue
            wrong = True  # `1,2345`, `5 6`: no single number at all, never the reference
        if wrong:
            out.append(miss)
            if len(out) >= limit:
                break
    return out
