"""A track's attribute is decided by a vote over its recent looks, so one blurry crop cannot flip it.

Each look is the classifier's value for one crop and its confidence. Looks under ``min_confidence`` do
not vote. The attribute is *decided* when at least ``min_looks`` of the last ``window`` looks voted and
one value has at least ``agreement`` of those votes; otherwise it is *undecided* (value None), and a rule
that needs it waits. Table-driven tests in tests/test_attributes.py spell the cases out.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """An attribute of one track: its value (None: undecided), the mean confidence of the looks that
    agree with it, and how many looks voted."""

    value: str | None
    confidence: float
    looks: int

    @property
    def decided(self) -> bool:
        return self.value is not None


UNDECIDED = Decision(None, 0.0, 0)

Attributes = Mapping[int, Mapping[str, Decision]]
"""One camera's decisions: track id → attribute name → decision."""


class Vote:
    """The looks of one track at one attribute."""

    __slots__ = ("_agreement", "_looks", "_min_confidence", "_min_looks")

    def __init__(self, *, min_looks: int, agreement: float, min_confidence: float, window: int) -> None:
        self._min_looks = min_looks
        self._agreement = agreement
        self._min_confidence = min_confidence
        self._looks: deque[tuple[str, float]] = deque(maxlen=max(window, min_looks))

    def add(self, value: str, confidence: float) -> Decision:
        """Record one look and return the decision it leads to."""
        self._looks.append((value, confidence))
        return self.decision()

    def decision(self) -> Decision:
        voting = [(v, c) for v, c in self._looks if c >= self._min_confidence]
        if len(voting) < self._min_looks:
            return Decision(None, 0.0, len(voting))
        value, count = Counter(v for v, _ in voting).most_common(1)[0]
        if count < self._agreement * len(voting):
            return Decision(None, 0.0, len(voting))
        agreeing = [c for v, c in voting if v == value]
        return Decision(value, sum(agreeing) / len(agreeing), len(voting))
