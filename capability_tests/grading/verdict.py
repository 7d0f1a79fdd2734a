"""The typed result of grading one completion."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """`reason` says why in a few words ("equal", "no final answer", "timeout", ...)."""

    correct: bool
    extracted: str | None
    reason: str
    seconds: float
    timed_out: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
