r"""A small, safe parser for the LaTeX subset final answers are written in.

Model output is untrusted, so nothing here calls `eval`, `exec`, `sympy.sympify`, `parse_expr` or
`sympy.parsing.latex` (the first three evaluate Python code). A tokenizer and a recursive-descent
parser build sympy objects through their constructors only (`Integer`, `Rational`, `Symbol`,
`Add`, `Mul`, `Pow`, `sqrt`, `sin`, ...).

Structures that sympy would blur are kept as small tagged values:

* `Seq(kind, items)`: a bracketed list. `kind` is the pair of brackets, `"()"`, `"[]"`, `"(]"`,
  `"[)"` (tuples and intervals: which ends are open is part of the value) or `"{}"` (a set);
* `Union(parts)`: `A \cup B`;
* `Matrix(rows)`: `\begin{pmatrix}...\end{pmatrix}` and friends;
* `Relation(op, lhs, rhs)`: `a = b`, `a \le b`, ...

Everything else is a sympy expression. Size is bounded before anything is computed: input length,
nesting depth, digits of a literal, and the size of any integer power, factorial or binomial
(`10^{10^{10^{10}}}` is refused with `Unsafe`, not computed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import sympy
from sympy import (
    Abs,
    E,
    I,
    Integer,
    Rational,
    Symbol,
    binomial,
    ceiling,
    factorial,
    floor,
    oo,
    pi,
    sqrt,
)

MAX_CHARS = 1500  # longer answers are compared as text only
MAX_DEPTH = 60  # nesting of brackets / operators
MAX_DIGITS = 400  # digits of one numeric literal
MAX_EXP10 = 400  # |exponent| of a scientific literal
MAX_RESULT_BITS = 20_000  # size of an integer power / factorial the parser will compute
MAX_TOTAL_BITS = 200_000  # all such results of one parse together
MAX_TERMS = 500  # terms of all \sum / \prod with concrete bounds, each built by the guarded parser
MAX_CLOSED_DEGREE = 12  # a \sum of a polynomial summand up to this degree is put in closed form
INDEX = Symbol("_index")  # the bound variable of an unevaluated \sum / \prod (no answer names it)


class ParseError(ValueError):
    """The text is not in the supported LaTeX subset."""


class Unsafe(ParseError):
    """The text would be too expensive to build (huge power, huge literal, too deep)."""


@dataclass(frozen=True)
class Seq:
    kind: str
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Union:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Matrix:
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Relation:
    op: str
    lhs: Any
    rhs: Any


_TOKEN = re.compile(
    r"(?P<ws>\s+|~)"
    r"|(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+(?![\d.]))?)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\[{}|,;:!% \\$#&_])"
    r"|(?P<letter>[a-zA-Z])"
    r"|(?P<op>[-+*/^_()\[\]{},=!|<>'.:;&])"
)

_FUNCS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec,
    "csc": sympy.csc, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "exp": sympy.exp,
    "ln": sympy.log, "log": sympy.log, "lg": lambda x: sympy.log(x, 10),
}
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon",
    "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi",
    "Sigma", "Upsilon", "Phi", "Psi", "Omega", "hbar", "ell", "mho", "odot", "nabla",
}
_IGNORED = {
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "displaystyle",
    "textstyle", ",", ";", ":", "!", " ", "quad", "qquad", "limits", "nolimits", "mathrm",
    "mathbf", "mathit", "boldsymbol", "bf", "rm", "it", "mathsf", "operatorname", "textbf",
    "textit", "boxed",
}
_RELATIONS = {
    "=": "=", "<": "<", ">": ">", "\\le": "<=", "\\leq": "<=", "\\leqslant": "<=",
    "\\ge": ">=", "\\geq": ">=", "\\geqslant": ">=", "\\neq": "!=", "\\ne": "!=",
    "\\lt": "<", "\\gt": ">",
}
_MULS = {"*", "\\cdot", "\\times", "\\ast"}
_DIVS = {"/", "\\div"}


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    n = len(text)
    spaced = False
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group()
        if kind == "ws":
            spaced = True
            continue
        if kind == "num" and spaced and tokens and tokens[-1][0] == "num":
            # `5 6` is neither 56 nor 30: two numbers side by side are not an answer
            raise ParseError("two numbers separated by a space")
        spaced = False
        if kind == "cmd" and value[1:] in _IGNORED:
            continue
        tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.toks = tokens
        self.i = 0
        self.depth = 0
        self.bits = 0
        self.indices: list[str] = []  # bound variables of the sums being parsed
        self.terms = 0  # terms of concrete sums built so far, nested sums included

    # -- helpers -------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.toks[j][1] if j < len(self.toks) else None

    def peek_kind(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self) -> str:
        if self.i >= len(self.toks):
            raise ParseError("unexpected end")
        value = self.toks[self.i][1]
        self.i += 1
        return value

    def expect(self, value: str) -> None:
        got = self.take()
        if got != value:
            raise ParseError(f"expected {value!r}, got {got!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Unsafe("nested too deeply")

    def leave(self) -> None:
        self.depth -= 1

    def charge(self, bits: float) -> None:
        if bits > MAX_RESULT_BITS:
            raise Unsafe("number too large to compute")
        self.bits += bits
        if self.bits > MAX_TOTAL_BITS:
            raise Unsafe("numbers too large to compute")

    # -- grammar -------------------------------------------------------------------------------
    def parse_top(self) -> Any:
        items = self.parse_list(end=None)
        if self.peek() == ":":
            # a ratio `3:4` (or `1:2:3`): its terms in order
            terms = [items]
            while self.peek() == ":":
                self.take()
                terms.append(self.parse_list(end=None))
            if any(len(t) != 1 for t in terms):
                raise ParseError("a list inside a ratio")
            items = [Seq(":", tuple(t[0] for t in terms))]
        if self.i != len(self.toks):
            raise ParseError(f"unexpected {self.peek()!r}")
        return items[0] if len(items) == 1 else Seq(",", tuple(items))

    def parse_list(self, end: set[str] | None) -> list[Any]:
        items = [self.parse_union()]
        while self.peek() in (",", ";"):
            self.take()
            items.append(self.parse_union())
        if end is not None and self.peek() not in end:
            raise ParseError(f"expected one of {sorted(end)}, got {self.peek()!r}")
        return items

    def parse_union(self) -> Any:
        first = self.parse_relation()
        if self.peek() != "\\cup":
            return first
        parts = [first]
        while self.peek() == "\\cup":
            self.take()
            parts.append(self.parse_relation())
        return Union(tuple(parts))

    def parse_relation(self) -> Any:
        lhs = self.parse_sum()
        op = self.peek()
        if op in _RELATIONS:
            self.take()
            rhs = self.parse_relation()
            return Relation(_RELATIONS[op], lhs, rhs)
        return lhs

    def parse_sum(self) -> Any:
        self.enter()
        try:
            if self.peek() in ("+", "-"):
                sign = self.take()
                first = self.parse_term()
                value = _neg(first) if sign == "-" else first
            else:
                value = self.parse_term()
            while self.peek() in ("+", "-"):
                op = self.take()
                rhs = self.parse_term()
                value = _add(value, _neg(rhs) if op == "-" else rhs)
            return value
        finally:
            self.leave()

    def parse_term(self) -> Any:
        value = self.parse_unary()
        while True:
            tok = self.peek()
            if tok in _MULS:
                self.take()
                value = _mul(value, self.parse_unary())
            elif tok in _DIVS:
                self.take()
                value = _div(value, self.parse_unary())
            elif self.starts_atom():
                is_frac = self.peek() in ("\\frac", "\\dfrac", "\\tfrac")
                value = self.implicit(value, self.parse_power(), is_frac)
            else:
                return value

    def implicit(self, left: Any, right: Any, is_frac: bool) -> Any:
        # A mixed number: "1\frac{4}{5}" is 1 + 4/5.
        if (
            is_frac
            and isinstance(left, sympy.Integer)
            and isinstance(right, sympy.Rational)
            and not right.is_Integer
            and 0 < right < 1
        ):
            return left + right if left >= 0 else left - right
        return _mul(left, right)

    def parse_unary(self) -> Any:
        if self.peek() in ("-", "+"):
            sign = self.take()
            self.enter()
            try:
                value = self.parse_unary()
            finally:
                self.leave()
            return _neg(value) if sign == "-" else value
        return self.parse_power()

    def starts_atom(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        kind = self.peek_kind()
        if kind in ("num", "letter"):
            return True
        if tok in ("(", "[", "{", "\\{", "\\lfloor", "\\lceil", "\\lbrace"):
            return True
        if kind == "cmd":
            return tok not in _RELATIONS and tok not in _MULS and tok not in _DIVS and tok not in (
                "\\}", "\\rbrace", "\\rfloor", "\\rceil", "\\cup", "\\pm", "\\mp", "\\end",
                "\\\\", "\\rangle", "\\in",
            )
        return False

    def parse_power(self) -> Any:
        base = self.parse_postfix()
        if self.peek() == "^":
            self.take()
            self.enter()
            try:
                exponent = self.parse_exponent()
            finally:
                self.leave()
            base = self.power(base, exponent)
            # x^2! is unusual; primes after powers are not supported
        return base

    def parse_exponent(self) -> Any:
        if self.peek() == "{":
            return self.parse_group()
        if self.peek() in ("-", "+"):
            sign = self.take()
            value = self.parse_exponent()
            return _neg(value) if sign == "-" else value
        if self.peek_kind() == "num":
            # "x^23" in LaTeX is x^2 * 3; take a single digit.
            tok = self.take()
            if len(tok) > 1 and tok[0].isdigit():
                rest = tok[1:]
                self.toks.insert(self.i, ("num", rest))
                tok = tok[0]
            return self.number(tok)
        return self.parse_postfix()

    def parse_postfix(self) -> Any:
        value = self.parse_atom()
        while self.peek() in ("!", "'"):
            tok = self.take()
            if tok == "!":
                value = self.factorial(value)
            else:
                if not isinstance(value, Symbol):
                    raise ParseError("prime on a non-symbol")
                value = Symbol(value.name + "'")
        return value

    def parse_group(self) -> Any:
        """`{ ... }`: a TeX group (one value; a comma list becomes a set-like Seq)."""
        self.expect("{")
        self.enter()
        try:
            if self.peek() == "}":
                raise ParseError("empty group")
            items = self.parse_list(end={"}"})
            self.expect("}")
        finally:
            self.leave()
        return items[0] if len(items) == 1 else Seq("{}", tuple(items))

    def parse_atom(self) -> Any:
        kind = self.peek_kind()
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end")
        if kind == "num":
            self.take()
            value = self.number(tok)
            if self.peek() == "_":
                # "52_8": a numeral in another base; kept as an opaque symbol.
                self.take()
                base = self.raw_group()
                return Symbol(f"{tok}_{base}")
            return value
        if kind == "letter":
            self.take()
            return self.subscripted(tok)
        if tok in ("(", "["):
            return self.bracketed()
        if tok == "{":
            return self.parse_group()
        if tok in ("\\{", "\\lbrace"):
            self.take()
            self.enter()
            try:
                items = self.parse_list(end={"\\}", "\\rbrace"})
                self.take()
            finally:
                self.leave()
            return Seq("{}", tuple(items))
        if tok == "|":
            self.take()
            self.enter()
            try:
                inner = self.parse_sum()
                self.expect("|")
            finally:
                self.leave()
            return Abs(_scalar(inner))
        if kind == "cmd":
            return self.command()
        raise ParseError(f"unexpected {tok!r}")

    def bracketed(self) -> Any:
        opener = self.take()
        self.enter()
        try:
            items = self.parse_list(end={")", "]"})
            closer = self.take()
        finally:
            self.leave()
        if len(items) == 1 and opener + closer in ("()", "[]"):
            return items[0]
        return Seq(opener + closer, tuple(items))

    def raw_group(self) -> str:
        """The text of a subscript: `{...}` or one token, as a name."""
        if self.peek() == "{":
            self.take()
            parts = []
            depth = 1
            while True:
                tok = self.take()
                if tok == "{":
                    depth += 1
                elif tok == "}":
                    depth -= 1
                    if depth == 0:
                        break
                parts.append(tok.lstrip("\\"))
                if len(parts) > 40:
                    raise ParseError("subscript too long")
            return "".join(parts)
        return self.take().lstrip("\\")

    def subscripted(self, name: str) -> Any:
        if (name.isupper() or name in "fgh") and self.peek() == "(" and self.peek(2) == ")":
            # "I(0)", "f(x)", "P(2)": a function applied to one atom, not a product
            self.take()
            arg = _scalar(self.parse_sum())
            self.expect(")")
            return sympy.Function(name)(arg)
        if self.peek() == "_":
            self.take()
            sub = self.raw_group()
            return Symbol(f"{name}_{sub}")
        if name in self.indices:
            return Symbol(name)
        if name == "e":
            return E
        if name == "i":
            return I
        return Symbol(name)

    def command(self) -> Any:
        tok = self.take()
        name = tok[1:]
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            num = self.frac_arg()
            den = self.frac_arg()
            return _div(num, den)
        if name == "sqrt":
            index = None
            if self.peek() == "[":
                self.take()
                index = self.parse_sum()
                self.expect("]")
            arg = self.frac_arg()
            if index is None:
                return sqrt(_scalar(arg))
            return self.power(arg, _div(Integer(1), index))
        if name in ("binom", "dbinom", "tbinom", "choose"):
            n = self.frac_arg()
            k = self.frac_arg()
            return self.binomial(n, k)
        if name == "pi":
            return pi
        if name == "infty" or name == "infinity":
            return oo
        if name in ("text", "mbox", "textrm", "textnormal", "mathrm", "operatorname"):
            word = self.raw_group()
            return Symbol(word) if word else Integer(1)
        if name in ("lfloor", "lceil"):
            self.enter()
            try:
                inner = self.parse_sum()
                closer = self.take()
            finally:
                self.leave()
            if name == "lfloor" and closer == "\\rfloor":
                return floor(_scalar(inner))
            if name == "lceil" and closer == "\\rceil":
                return ceiling(_scalar(inner))
            raise ParseError("unbalanced floor/ceiling")
        if name in ("begin",):
            return self.environment()
        if name in ("sum", "prod"):
            return self.big_operator(name)
        if name in _FUNCS or name in ("arcsec", "arccsc", "arccot"):
            return self.function(name)
        if name in _GREEK:
            return self.subscripted_cmd(name)
        if name in ("dot", "ddot", "hat", "bar", "tilde", "vec", "overline", "mathbb"):
            inner = self.raw_group()
            return self.subscripted_cmd(f"{name}_{inner}")
        if name in ("circ", "degree"):
            raise ParseError("degree sign inside an expression")
        raise ParseError(f"unsupported command {tok}")

    def subscripted_cmd(self, name: str) -> Any:
        if self.peek() == "_":
            self.take()
            return Symbol(f"{name}_{self.raw_group()}")
        return Symbol(name)

    def frac_arg(self) -> Any:
        """A macro argument: `{...}` or a single token (`\\frac12`)."""
        if self.peek() == "{":
            return self.parse_group()
        kind = self.peek_kind()
        if kind == "num":
            tok = self.take()
            if len(tok) > 1 and tok.isdigit():
                self.toks.insert(self.i, ("num", tok[1:]))
                tok = tok[0]
            return self.number(tok)
        if kind == "letter":
            return self.subscripted(self.take())
        if kind == "cmd":
            return self.command()
        raise ParseError("bad macro argument")

    def function(self, name: str) -> Any:
        base = None
        power = None
        if name in ("log",) and self.peek() == "_":
            self.take()
            base = self.parse_exponent()
        if self.peek() == "^":
            self.take()
            power = self.parse_exponent()
        if self.peek() == "_" and base is None and name == "log":
            self.take()
            base = self.parse_exponent()
        if self.peek() in ("(", "{", "["):
            arg = self.parse_postfix()
        else:
            # "\sin 2x": the argument runs over implicitly multiplied atoms.
            self.enter()
            try:
                arg = self.parse_power()
                while self.starts_atom() and self.peek() not in (
                    "\\" + f for f in _FUNCS
                ):
                    arg = _mul(arg, self.parse_power())
            finally:
                self.leave()
        arg = _scalar(arg)
        if name in ("arcsec", "arccsc", "arccot"):
            func = {"arcsec": sympy.asec, "arccsc": sympy.acsc, "arccot": sympy.acot}[name]
            value = func(arg)
        elif base is not None:
            value = sympy.log(arg, _scalar(base))
        else:
            value = _FUNCS[name](arg)
        if power is not None:
            if power == -1 and name in ("sin", "cos", "tan"):
                value = {"sin": sympy.asin, "cos": sympy.acos, "tan": sympy.atan}[name](arg)
            else:
                value = self.power(value, power)
        return value

    def environment(self) -> Any:
        self.expect("{")
        env = ""
        while self.peek() != "}":
            env += self.take()
        self.take()
        if env.rstrip("*") not in ("pmatrix", "bmatrix", "matrix", "vmatrix", "array", "Bmatrix",
                                   "smallmatrix"):
            raise ParseError(f"unsupported environment {env}")
        if env == "array" and self.peek() == "{":
            self.raw_group()  # column spec
        rows: list[list[Any]] = [[]]
        while True:
            if self.peek() == "\\end":
                self.take()
                self.raw_group()
                break
            self.enter()
            try:
                rows[-1].append(self.parse_sum())
            finally:
                self.leave()
            sep = self.peek()
            if sep == "&":
                self.take()
            elif sep == "\\\\":
                self.take()
                if self.peek() != "\\end":
                    rows.append([])
            elif sep != "\\end":
                raise ParseError("bad matrix")
            if sum(len(r) for r in rows) > 400:
                raise Unsafe("matrix too large")
        if len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        return Matrix(tuple(tuple(r) for r in rows))

    def big_operator(self, name: str) -> Any:
        r"""`\sum_{k=1}^{n} k^2`, `\prod_{i=1}^{5} (1 + 1/i)`: the summand is the term that follows.

        Concrete bounds: each term is parsed again with the index replaced by its value, so every
        size guard applies to it (`\prod_{k=1}^{9} 10^{10^k}` is refused, not computed).
        Symbolic bounds: a polynomial summand is summed in closed form (Faulhaber), a product of
        the index alone or times a constant is a factorial; anything else stays an unevaluated
        `Sum` / `Product` over one fixed index symbol, so that renaming the index or reordering
        factors gives an equal value."""
        lower = upper = None
        while self.peek() in ("_", "^"):
            if self.take() == "_":
                if lower is not None:
                    raise ParseError("two lower bounds")
                lower = self.lower_bound()
            else:
                if upper is not None:
                    raise ParseError("two upper bounds")
                upper = self.parse_exponent()
        if lower is None or upper is None:
            raise ParseError(f"\\{name} without bounds `_{{k=a}}^{{b}}`")
        index, start, stop = lower[0], _scalar(lower[1]), _scalar(upper)
        if self.starts_atom() is False and self.peek() not in ("-", "+"):
            raise ParseError(f"\\{name} without a summand")
        first = self.i
        self.enter()
        self.indices.append(index.name)  # `i` in the summand is the index, not the unit
        try:
            body = _scalar(self.parse_unary_term())
        finally:
            self.indices.pop()
            self.leave()
        body_tokens = self.toks[first:self.i]
        op = sympy.Add if name == "sum" else sympy.Mul
        if start.is_Integer and stop.is_Integer:
            count = int(stop - start) + 1
            if count <= 0:
                return op.identity
            if count <= MAX_TERMS - self.terms:
                self.terms += count
                return op(*(self.term_at(body_tokens, index, k)
                            for k in range(int(start), int(stop) + 1)))
        elif start.free_symbols & {index} or stop.free_symbols & {index}:
            raise ParseError("a bound names the index")
        closed = self.closed_form(name, body, index, start, stop)
        if closed is not None:
            return closed
        if start.is_Integer and stop.is_Integer:
            raise Unsafe(f"\\{name} of too many terms")
        kind = sympy.Sum if name == "sum" else sympy.Product
        return kind(body.xreplace({index: INDEX}), (INDEX, start, stop))

    def lower_bound(self) -> tuple[Symbol, Any]:
        """`{k=1}`: the index (one letter) and where it starts."""
        self.expect("{")
        if self.peek_kind() != "letter":
            raise ParseError("the lower bound of a sum names no index")
        index = Symbol(self.take())
        self.expect("=")
        self.enter()
        try:
            start = self.parse_sum()
        finally:
            self.leave()
        self.expect("}")
        return index, start

    def parse_unary_term(self) -> Any:
        if self.peek() in ("-", "+"):
            sign = self.take()
            value = self.parse_term()
            return _neg(value) if sign == "-" else value
        return self.parse_term()

    def term_at(self, tokens: list[tuple[str, str]], index: Symbol, k: int) -> Any:
        if len(index.name) != 1:
            raise ParseError("a subscripted index with concrete bounds")
        value = [("op", "(")] + ([("op", "-")] if k < 0 else []) + [("num", str(abs(k))),
                                                                     ("op", ")")]
        subscript = [("op", "{"), ("num", str(k)), ("op", "}")]  # `a_k` becomes `a_{3}`
        substituted: list[tuple[str, str]] = []
        for tok in tokens:
            if tok != ("letter", index.name):
                substituted.append(tok)
            elif substituted and substituted[-1] == ("op", "_") and k >= 0:
                substituted.extend(subscript)
            elif substituted[-2:] == [("op", "_"), ("op", "{")] and k >= 0:
                substituted.append(("num", str(k)))
            else:
                substituted.extend(value)
        sub = _Parser(substituted)
        sub.depth, sub.bits, sub.terms = self.depth, self.bits, self.terms
        term = _scalar(sub.parse_unary_term())
        if sub.i != len(substituted):
            raise ParseError("a summand that does not parse on its own")
        self.bits, self.terms = sub.bits, sub.terms
        if term.is_Rational:
            self.charge(max(abs(term.p).bit_length(), term.q.bit_length()))
        return term

    def closed_form(self, name: str, body: Any, index: Symbol, start: Any, stop: Any) -> Any:
        if not body.has(index):
            return body * (stop - start + 1) if name == "sum" else self.power(body, stop - start + 1)
        poly = body.as_poly(index) if body.is_polynomial(index) else None
        if poly is None:
            return None
        if name == "sum" and poly.degree() <= MAX_CLOSED_DEGREE:
            if any(c.is_Number and abs(c) > 2 ** 64 for c in poly.coeffs()):
                raise Unsafe("summand too large")
            return sympy.expand(sympy.Sum(body, (index, start, stop)).doit())
        if name == "prod" and poly.degree() == 1 and start.is_Integer and start >= 1:
            a, b = poly.all_coeffs()
            if b == 0:  # prod of a*k: a^(count) * stop! / (start-1)!
                return self.power(a, stop - start + 1) * factorial(stop) / factorial(start - 1)
        return None

    # -- guarded arithmetic ----------------------------------------------------------------------
    def number(self, tok: str) -> Any:
        mantissa, _, exp = tok.lower().partition("e")
        if len(mantissa) > MAX_DIGITS:
            raise Unsafe("numeric literal too long")
        if mantissa.endswith("."):
            mantissa = mantissa[:-1]
        value = Rational(mantissa) if "." in mantissa else Integer(int(mantissa))
        if exp:
            e = int(exp)
            if abs(e) > MAX_EXP10:
                raise Unsafe("exponent too large")
            value = value * Integer(10) ** e
        return value

    def power(self, base: Any, exponent: Any) -> Any:
        base, exponent = _scalar(base), _scalar(exponent)
        if exponent.is_Number and base.is_Number:
            if exponent.is_Integer or exponent.is_Rational:
                e = abs(exponent)
                b = abs(base)
                if b not in (0, 1):
                    size = max(abs(b.p).bit_length(), abs(b.q).bit_length(), 1)
                    bits = float(e) * size
                    if bits > MAX_RESULT_BITS:
                        raise Unsafe("power too large to compute")
                    self.charge(bits)
            elif exponent.is_Float and abs(exponent) > 10_000:
                raise Unsafe("power too large to compute")
        elif exponent.is_Number and abs(exponent) > 10_000:
            raise Unsafe("power too large to compute")
        elif base.is_Number and abs(base) not in (0, 1) and exponent.has(sympy.Pow) and _tower(exponent):
            raise Unsafe("tower of powers")
        return sympy.Pow(base, exponent)

    def factorial(self, value: Any) -> Any:
        value = _scalar(value)
        if value.is_Integer:
            if value > 3000:
                raise Unsafe("factorial too large")
            if value > 0:
                self.charge(float(value) * math.log2(float(value) + 1))
        elif value.is_Number:
            raise ParseError("factorial of a non-integer")
        return factorial(value)

    def binomial(self, n: Any, k: Any) -> Any:
        n, k = _scalar(n), _scalar(k)
        if n.is_Number and abs(n) > 5000:
            raise Unsafe("binomial too large")
        return binomial(n, k)


def _tower(expr: Any) -> bool:
    """True when `expr` contains a numeric power whose value is already astronomically large."""
    for p in sympy.preorder_traversal(expr):
        if isinstance(p, sympy.Pow) and p.exp.is_Number and abs(p.exp) > 64:
            return True
    return False


def _scalar(value: Any) -> sympy.Expr:
    if isinstance(value, sympy.Expr):
        return value
    raise ParseError("a structure where a number was expected")


def _neg(value: Any) -> Any:
    return -_scalar(value)


def _add(a: Any, b: Any) -> Any:
    return sympy.Add(_scalar(a), _scalar(b))


def _mul(a: Any, b: Any) -> Any:
    return sympy.Mul(_scalar(a), _scalar(b))


def _div(a: Any, b: Any) -> Any:
    a, b = _scalar(a), _scalar(b)
    if b == 0:
        raise ParseError("division by zero")
    return sympy.Mul(a, sympy.Pow(b, -1))


def parse_latex(text: str) -> Any:
    """Parse one normalised answer into a sympy expression or one of the tagged structures."""
    if len(text) > MAX_CHARS:
        raise Unsafe("answer too long to parse")
    if text.count("{") > 200 or text.count("(") > 200:
        raise Unsafe("too many groups")
    tokens = tokenize(text)
    if not tokens:
        raise ParseError("empty")
    return _Parser(tokens).parse_top()
