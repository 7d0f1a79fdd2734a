"""How a benchmark wants its answers graded, declared by the benchmark, never keyed by its name.

A `Benchmark` declares one frozen `GradingPolicy` (`Benchmark.grading_policy`); every `Problem` it
makes carries it (`Problem.policy`), the math verifier reads only the policy, and the policy is
part of the verdict key (`store.grading_digest`), so changing a benchmark's policy regrades its
stored verdicts. A benchmark from another package declares its own (a physics set with measured
answers: `GradingPolicy(tolerance="relative", tolerance_value=0.02)`).

Importing this module imports nothing but the standard library (it is loaded with `Problem`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass

TOLERANCES = ("none", "relative", "absolute")
WRITTEN_PRECISION = ("off", "decimals", "numbers")
EXTRACTIONS = ("standard", "hashes_first")
LIST_SEMANTICS = ("unordered", "ordered")

_DECIMAL = re.compile(r"^-?(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?$")
_TIMES10 = re.compile(
    r"^-?(?P<int>\d+)(?:\.(?P<frac>\d*))?\s*\\times\s*10\s*\^\s*\{?\s*(?P<exp>[+-]?\d+)\s*\}?$"
)


class PolicyError(ValueError):
    """A grading policy that cannot be applied (unknown rule, negative tolerance)."""


@dataclass(frozen=True)
class Tolerance:
    """How far a number may be from a numeric reference: `relative` (a fraction of the
    reference's magnitude) or `absolute`; both 0 means exactly (rationals compared exactly)."""

    relative: float = 0.0
    absolute: float = 0.0

    @property
    def exact(self) -> bool:
        return self.relative == 0 and self.absolute == 0


EXACT = Tolerance()


@dataclass(frozen=True)
class GradingPolicy:
    """What the math verifier does for one benchmark's problems.

    * `tolerance`: "none" (numbers compared exactly), "relative" or "absolute" with
      `tolerance_value` (a relative 0.02 accepts 2% either side of the reference).
    * `written_precision`: a numeric reference also accepts half a unit in its last written digit
      ("decimals": only references written with a decimal point, `18.8`; "numbers": integers too,
      whose trailing zeros are not significant: `15000` is 1.5e4), never more than
      `written_precision_cap` (relative) and never less than the tolerance above.
    * `extraction`: "standard" (docs/GRADING.md's order) or "hashes_first" (GSM8K: the last
      `#### <answer>` line before anything else).
    * `lists`: an answer list without brackets (`1, -2`) is an "unordered" multiset of the
      reference's items, or "ordered".
    * `reference_list_field`, `multiple_answer_field`, `unit_field`: the `Problem.meta` keys that
      hold the reference as a list of final answers, whether that list is a set of several
      answers, and a unit written after the answer (OlympiadBench: `final_answer`,
      `is_multiple_answer`, `unit`).
    * `answer_range`: every reference is an integer in [low, high] (AIME: 0-999); reports draw a
      uniform guesser's pass@k for it. It decides no verdict.
    """

    tolerance: str = "none"
    tolerance_value: float = 0.0
    written_precision: str = "off"
    written_precision_cap: float = 0.0
    extraction: str = "standard"
    lists: str = "unordered"
    reference_list_field: str | None = None
    multiple_answer_field: str | None = None
    unit_field: str | None = None
    answer_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name, allowed in (("tolerance", TOLERANCES), ("written_precision", WRITTEN_PRECISION),
                              ("extraction", EXTRACTIONS), ("lists", LIST_SEMANTICS)):
            if getattr(self, name) not in allowed:
                raise PolicyError(f"grading policy: {name}={getattr(self, name)!r} is not one of "
                                  f"{', '.join(allowed)}")
        for name in ("tolerance_value", "written_precision_cap"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise PolicyError(f"grading policy: {name} must be a finite number >= 0, "
                                  f"got {value!r}")
        if self.tolerance == "none" and self.tolerance_value:
            raise PolicyError("grading policy: tolerance_value needs tolerance='relative' or "
                              "'absolute'")
        if self.tolerance != "none" and not self.tolerance_value:
            raise PolicyError(f"grading policy: tolerance={self.tolerance!r} needs a "
                              "tolerance_value above 0")
        if self.answer_range is not None:
            low, high = self.answer_range
            if not (isinstance(low, int) and isinstance(high, int) and low <= high):
                raise PolicyError(f"grading policy: answer_range must be two integers low <= "
                                  f"high, got {self.answer_range!r}")
            object.__setattr__(self, "answer_range", (low, high))

    def as_key(self) -> str:
        """The policy as canonical JSON, for the verdict key."""
        return json.dumps(asdict(self), sort_keys=True, default=list)

    def tolerance_for(self, reference: str) -> Tolerance:
        """The tolerance for numbers compared with `reference` (normalised LaTeX text; "" for a
        list item, which gets the declared tolerance without written precision)."""
        relative = self.tolerance_value if self.tolerance == "relative" else 0.0
        absolute = self.tolerance_value if self.tolerance == "absolute" else 0.0
        if self.written_precision != "off" and reference:
            half = half_unit_relative(reference)
            if half is not None and (self.written_precision == "numbers" or "." in reference):
                relative = max(relative, min(half, self.written_precision_cap))
        if relative == 0 and absolute == 0:
            return EXACT
        return Tolerance(relative, absolute)


DEFAULT_POLICY = GradingPolicy()


def half_unit_relative(ref: str) -> float | None:
    """Half a unit in the last written digit of a decimal reference, relative to its value
    (`41.9`: 0.05 / 41.9); None when the reference is not one written number."""
    s = ref.replace(" ", "")
    m = _DECIMAL.match(s) or _TIMES10.match(s)
    if not m or not (m.group("int") or m.group("frac")):
        return None
    digits = (m.group("int") or "") + (m.group("frac") or "")
    frac = len(m.group("frac") or "")
    if not frac and "." not in s:
        # trailing zeros of an integer are not significant: 15000 is 1.5e4
        stripped = digits.rstrip("0")
        frac = -(len(digits) - len(stripped)) if stripped else 0
    try:
        value = abs(float((m.group("int") or "0") + "." + (m.group("frac") or "0")))
    except ValueError:
        return None
    if value == 0 or not digits.strip("0"):
        return None
    return 0.5 * 10.0 ** (-frac) / value
