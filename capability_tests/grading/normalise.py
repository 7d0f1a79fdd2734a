r"""Turn an answer string into a canonical form before it is compared.

`normalise(text, unit=...)` returns a `Normalised` value: the cleaned LaTeX (`math`, what the
parser reads), a whitespace-free `key` (what the cheap string comparison uses) and flags for what
was removed (`percent`, `degrees`). Rules, in order:

* math delimiters and currency: `$`, `\$`, `\(`, `\)`;
* spacing and sizing macros: `\left`, `\right`, `\!`, `\,`, `\;`, `\:`, `\ `, `\quad`, `~`,
  `\displaystyle`; `\dfrac`/`\tfrac`/`\cfrac` become `\frac`;
* plain-text forms: `>=`, `<=`, `!=` (and `≥`, `≤`, `≠`) become `\geq`, `\leq`, `\neq`; `pi`
  and `π` become `\pi`; `sqrt(2)` and `√2` become `\sqrt{2}`; `∈`, `∞`, `×`, `·`, `∪`, the
  minus sign `−` become their LaTeX;
* `A \approx B` keeps A (the exact value), unless A is only a label (`x \approx 8` is 8);
* degree signs (`^\circ`, `^{\circ}`, `°`, `\degree`, a trailing "degrees") and percent signs
  (`\%`, `%`, "percent", "percentage", "pct") are removed and recorded;
* the benchmark's unit (OlympiadBench `meta["unit"]`) and a trailing unit word written after a
  number or fraction (`5.4 \text{ cents}`, `15\mbox{ cm}^2`, `\frac34 \textbf{cm}`, `3 meters`,
  `10 ways`) are removed;
* `\text{}`/`\textbf{}`/`\mbox{}`/`\mathrm{}` wrappers are unwrapped;
* a label on the left of the only `=` (`x =`, `f(x) =`, `\theta =`, `AB =`, `(a, b) =`,
  `A:B =`), `x \in`, set-builder braces and a trailing period are removed; an arithmetic left side
  (`12 + 7 = 19`) only when the right side is a number (`9 = 4p + q` stays an equation);
* thousands separators (`58,500`, `10,\!080`, `1{,}000`) are removed when the whole answer is one
  such number and the reference is not a list; `45, 120` (comma and space) stays a list;
* the key drops whitespace except between two digits (`5 6` is not 56).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_SPACING = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|displaystyle|textstyle|quad|qquad)(?![a-zA-Z])"
    r"|(?<!\\)\\[!,;: ]|~"
)
_MARKUP = r"(?:text|textbf|textit|textrm|textnormal|mbox|mathrm)"
_DEGREES = re.compile(
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree|\\circ"
    r"|\\" + _MARKUP + r"\{\s*(?:degrees?|deg)\s*\}|(?<=[\d}\s])degrees?\b"
)
_PERCENT = re.compile(
    r"\\%|%|\\" + _MARKUP + r"\{\s*(?:percent(?:age)?|pct|\\%|%)\s*\}"
    r"|(?<=[\d}\s])(?:percent(?:age)?|pct)\b"
)
_WRAPPER = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mbox|mathrm|mathbf|boldsymbol)\s*\{([^{}]*)\}")
_TRAILING_TEXT_UNIT = re.compile(
    r"^(.*?[\d}])\s*\\" + _MARKUP + r"\s*\{\s*([a-zA-Z][a-zA-Z .]*?)\s*\}\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
_UNIT_WORDS = (
    "cm|mm|km|m|kg|g|mg|s|sec|seconds?|minutes?|mins?|hours?|hrs?|h|days?|weeks?|years?|"
    "inch(?:es)?|in|feet|foot|ft|yards?|yd|miles?|mi|mph|meters?|metres?|centimeters?|"
    "kilometers?|dollars?|cents?|units?|square\\s+units|sq\\s+units|cubic\\s+units|"
    "liters?|litres?|ml|L|pounds?|lbs?|ounces?|oz|degrees?|radians?|rad|people|students|"
    "km/h|m/s|cm\\^2|cm\\^3|m\\^2|m\\^3|in\\^2|ft\\^2|"
    # count nouns models write after a count (lm-eval's Minerva normaliser drops these too)
    "ways|integers|numbers|points|digits|meals|edges|multiples|pairs|times|tickets|children|"
    "games|pages|books|coins|marbles|grams|gm|kilograms|gallons|cups|sq\\s+ft|square\\s+feet|"
    "square\\s+inches|square\\s+meters|square\\s+centimeters|cubic\\s+feet|cubic\\s+inches"
)
_TRAILING_WORD_UNIT = re.compile(
    r"^(.*?\d)\s*(?:" + _UNIT_WORDS + r")\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
_GREEK = (
    r"\\(?:alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu"
    r"|xi|rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Pi|Sigma|Phi"
    r"|Psi|Omega)(?![a-zA-Z])"
)
# one name: a letter or a Greek letter, with an optional subscript (`a_1`, `m_{\max}`, `\theta_0`)
_NAME = r"(?:[A-Za-z]|" + _GREEK + r")(?:\s*_\s*(?:\{[\w ,\\]+\}|\w))?"
# a label: `x`, `f(x)`, `a_1`, `\angle ABC`, `AB` (a segment), `(a, b)`, `(r,\theta)`, `A:B`
# a named geometric quantity: a point, segment or area (`N`, `NO`, `[ABC]`)
_QUANTITY = r"(?:\[[A-Z]{2,4}\]|[A-Z]{1,3})"
_LABEL = (
    r"(?:\\angle\s*[A-Za-z _{}0-9\\]+?"
    r"|\\frac\s*\{\s*" + _QUANTITY + r"\s*\}\s*\{\s*" + _QUANTITY + r"\s*\}"  # NO/BO =
    + r"|" + _QUANTITY + r"\s*/\s*" + _QUANTITY
    + r"|" + _NAME + r"(?:\s*\(\s*[a-z]\s*\))?"
    r"|\\?[A-Za-z]+_\{?\\?[a-z]+\s*\}?"
    r"|[A-Z]{2,3}"
    r"|\(\s*" + _NAME + r"(?:\s*,\s*" + _NAME + r")+\s*\)"
    r"|" + _NAME + r"(?:\s*:\s*" + _NAME + r")+)"
)
_LHS = re.compile(r"^\s*" + _LABEL + r"\s*=\s*(?P<rest>[^=]+)$")
_ONLY_LABEL = re.compile(r"^\s*" + _LABEL + r"\s*$")
_APPROX = re.compile(r"\\approx(?![a-zA-Z])|≈|\\simeq(?![a-zA-Z])")
_ASCII_RELATIONS = (("<=", "\\leq "), (">=", "\\geq "), ("!=", "\\neq "), ("≤", "\\leq "),
                    ("≥", "\\geq "), ("≠", "\\neq "), ("∈", "\\in "), ("π", "\\pi "),
                    ("∞", "\\infty "), ("×", "\\times "), ("·", "\\cdot "), ("−", "-"),
                    ("∪", "\\cup "))
_UNICODE_ROOT = re.compile(r"√\s*(?:\{([^{}]*)\}|\(([^()]*)\)|(\d+|[A-Za-z]))")
_PLAIN_PI = re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])")
_PLAIN_SQRT = re.compile(r"(?<![\\A-Za-z])sqrt\s*(?:\(([^()]{1,200})\)|(\d+))")
# set-builder notation: `\{x \mid x > 3\}` states the condition
_SET_BUILDER = re.compile(r"^\\\{\s*[A-Za-z]\s*(?:\\mid|\||:)\s*(.+)\\\}$")
_IN = re.compile(r"^\s*[A-Za-z](?:\s*\(\s*[a-z]\s*\))?\s*\\in\s*")  # `x \in`, `f(x) \in`
# "12 + 7 = 19": a purely arithmetic left side (no letters) stated before the result.
_ARITH = r"(?:[\d\s+\-*/().^{}]|\\times|\\cdot|\\div|\\[dt]?frac|\\sqrt)"
_ARITHMETIC_LHS = re.compile(r"^\s*" + _ARITH + r"*\d" + _ARITH + r"*=\s*(?P<rest>[^=]+)$")
# ... but only when the right side is a number: `9 = 4p + q` is an equation, not a result.
_HAS_VARIABLE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
# SI digit grouping: one space (`1 000`, `1\,000`, `1\ 000`) before each group of three digits
_SI_GROUPS = re.compile(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$")
_CHOICE = re.compile(r"^\(?([A-E])\)?$")


@dataclass(frozen=True)
class Normalised:
    math: str  # cleaned LaTeX for the parser
    key: str  # whitespace-free string for the cheap comparison
    percent: bool = False
    degrees: bool = False


def _strip_unit(text: str, unit: str | None) -> str:
    if not unit:
        return text
    variants = {unit.strip(), unit.strip().strip("$").strip()}
    variants |= {re.sub(r"\\(?:text|mathrm|mbox)\{([^{}]*)\}", r"\1", v) for v in variants}
    for v in sorted(variants, key=len, reverse=True):
        if not v:
            continue
        for candidate in (f"\\text{{{v}}}", f"\\text{{ {v}}}", f"\\mathrm{{{v}}}", v):
            stripped = text.rstrip()
            if stripped.endswith(candidate) and len(stripped) > len(candidate):
                return stripped[: -len(candidate)].rstrip()
    return text


@functools.lru_cache(maxsize=4096)  # a pure function of short strings, asked again per sample
def normalise(text: str, unit: str | None = None, thousands: bool = True,
              keep_labels: bool = False) -> Normalised:
    s = text.strip()
    s = s.replace("\\$", "").replace("$", "").replace("\\(", "").replace("\\)", "")
    s = s.replace("\\[", "").replace("\\]", "") if s.startswith("\\[") else s
    s = re.sub(r",\s*\\!\s*(?=\d)", ",", s)  # `10,\!080`: a thousands separator, not a list
    s = _SPACING.sub(" ", s)
    for ascii_op, command in _ASCII_RELATIONS:
        s = s.replace(ascii_op, command)
    s = _UNICODE_ROOT.sub(lambda m: "\\sqrt{" + next(g for g in m.groups() if g is not None) + "}", s)
    s = _PLAIN_PI.sub(r"\\pi ", s)
    s = _PLAIN_SQRT.sub(lambda m: "\\sqrt{" + (m.group(1) or m.group(2)) + "}", s)
    s = _approximation_removed(s)
    s = re.sub(r"\\[dtc]frac(?![a-zA-Z])", r"\\frac", s)
    s = re.sub(r"\s*\{\s*,\s*\}\s*", ",", s)  # `1{,}000`, `14 {, }916`
    s = s.strip().rstrip(".").strip()
    unit_is_percent = bool(unit) and unit.strip().strip("$").strip() in ("%", "\\%")
    s = _strip_unit(s, None if unit_is_percent else unit)
    percent = bool(_PERCENT.search(s)) or unit_is_percent
    s = _PERCENT.sub("", s)
    degrees = bool(_DEGREES.search(s))
    s = _DEGREES.sub("", s).strip()
    # a unit written after a number
    for _ in range(2):
        m = _TRAILING_TEXT_UNIT.match(s)
        if m and m.group(1).strip():
            s = m.group(1).strip()
        m = _TRAILING_WORD_UNIT.match(s)
        if m and m.group(1).strip() and not re.search(r"[a-zA-Z]\s*$", m.group(1)):
            s = m.group(1).strip()
    for _ in range(3):
        s2 = _WRAPPER.sub(r"\1", s)
        if s2 == s:
            break
        s = s2
    s = s.strip().rstrip(".").strip()
    s = _IN.sub("", s)
    m = _SET_BUILDER.match(s)
    if m:
        s = m.group(1).strip()
    if (s.count("=") == 1 and not keep_labels and _equals_at_top(s)
            and not re.search(r"\\(?:le|ge|ne)q?|[<>]", s)):
        m = _LHS.match(s)
        if m is None:
            m = _ARITHMETIC_LHS.match(s)
            if m and _HAS_VARIABLE.search(m.group("rest")):
                m = None
        if m:
            s = m.group("rest").strip()
    if thousands and _THOUSANDS.match(s):
        s = s.replace(",", "")
    elif thousands and _SI_GROUPS.match(s):
        s = s.replace(" ", "")
    # whitespace is dropped from the key, except between two digits: `5 6` is not 56
    key = re.sub(r"\s+", lambda w: " " if _between_digits(s, w) else "", s)
    key = re.sub(r"([_^])\{(\w)\}", r"\1\2", key)
    key = re.sub(r"\\frac\{(\w)\}\{(\w)\}", r"\\frac\1\2", key)
    m = _CHOICE.match(key)
    if m:
        key = m.group(1)
    elif re.fullmatch(r"[A-Za-z][A-Za-z ]+", s):
        key = key.lower()
    return Normalised(math=s, key=key, percent=percent, degrees=degrees)


def _equals_at_top(text: str) -> bool:
    """The first `=` is outside every brace group (`\\sum_{k=1}^{n}` has no label)."""
    head = text.split("=", 1)[0]
    return head.count("{") - head.count("\\{") <= head.count("}") - head.count("\\}")


def labelled_value(item: str) -> str | None:
    """`a = 2` -> `2`: the value of an item that is one name given a value, else None."""
    m = _LHS.match(item) if _equals_at_top(item) else None
    if m and "(" not in item.split("=")[0] and ":" not in item.split("=")[0]:
        return m.group("rest").strip()
    return None


def _between_digits(text: str, match: re.Match) -> bool:
    return (match.start() > 0 and text[match.start() - 1].isdigit()
            and match.end() < len(text) and text[match.end()].isdigit())


def _approximation_removed(text: str) -> str:
    r"""`\frac{\sqrt2}{2} \approx 0.707` states the exact value; `x \approx 8` states 8."""
    parts = _APPROX.split(text)
    if len(parts) == 1:
        return text
    if _ONLY_LABEL.match(parts[0]) and parts[1].strip():
        return parts[1].strip()
    return parts[0].strip() or text


def split_top_level(text: str) -> list[str]:
    """Split on commas/semicolons that are not inside any brackets (`(1,2), (3,4)` gives two)."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            if text.startswith("\\{", i) or text.startswith("\\lbrace", i):
                depth += 1
            elif text.startswith("\\}", i) or text.startswith("\\rbrace", i):
                depth -= 1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    parts = [p.strip() for p in parts]
    # "x=1, y=2" style lists and trailing "and"
    parts = [re.sub(r"^(?:and|or)\s+", "", p) for p in parts]
    return [p for p in parts if p]


_AND = re.compile(r"\s*(?:\\text\{\s*(?:and|or)\s*\}|\\quad|\band\b|\bor\b)\s*")


def split_answer_list(text: str) -> list[str]:
    """The items of an answer that is a list (`1, -2`, `(1,2) and (3,4)`, `\\{1, 2\\}`)."""
    s = text.strip()
    m = re.fullmatch(r"\\\{(.*)\\\}", s) or re.fullmatch(r"\\lbrace(.*)\\rbrace", s)
    if m:
        s = m.group(1)
    elif s.startswith("{") and s.endswith("}") and _outer_group(s):
        s = s[1:-1]  # plain grouping braces around a list: `{-7, 7}`
    s = _AND.sub(",", s)
    return split_top_level(s)


def _outer_group(text: str) -> bool:
    """`text` is one `{...}` group whose braces match each other (not `{a}, {b}`)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "\\":
            continue
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return depth == 0


def expand_pm(text: str) -> list[str]:
    r"""`3 \pm 2\sqrt2` is two answers; more than one `\pm` is left alone."""
    if text.count("\\pm") == 1 and "\\mp" not in text:
        return [text.replace("\\pm", "+"), text.replace("\\pm", "-")]
    return [text]


def reference_parts(final_answers: list[str]) -> list[str]:
    """OlympiadBench `final_answer` entries, each split on the `$,$` its writers used."""
    out: list[str] = []
    for entry in final_answers:
        for piece in re.split(r"\$\s*,\s*\$", entry):
            piece = piece.strip().strip("$").strip().rstrip(".").strip()
            if piece:
                out.append(piece)
    return out
