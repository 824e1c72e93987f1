"""Turns per-frame rule verdicts into alerts with a start and an end, in seconds of frame time.

For each subject the condition is debounced: it begins at the first frame where it holds, gaps up to
``clear_after`` seconds do not interrupt it, and an alert starts once it has held for ``min_duration``.
The alert ends when the condition has been false for more than ``clear_after`` (reason ``cleared``), when
the tracker removes the subject (``track_lost``), or when the daemon stops (``shutdown``). After an end,
the subject is ignored for ``cooldown`` seconds. While active, an ``update`` is sent at most every
``update_interval`` seconds (if set). Instant rules (line crossings) turn each verdict into a ``start``
and an ``end`` (reason ``crossed``) in the same frame; they keep no state here (a line rule applies its
own cooldown, because it counts what it does not notify). State is kept only for subjects that are pending,
active or cooling down, so memory stays bounded by the objects in view.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from ..events import new_id
from .base import Subject, Timing

_EPS = 1e-6
"""Tolerance for comparing frame times: PTS arithmetic gives 0.9999999 for a second."""


class Phase(Enum):
    PENDING = "pending"
    ACTIVE = "active"
    COOLDOWN = "cooldown"


@dataclass(slots=True)
class _State:
    phase: Phase
    since: float
    last_true: float
    subject: Subject
    alert_id: str = ""
    cooldown_until: float = 0.0
    last_update: float = 0.0


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert starting or ending. ``started_at``/``ended_at`` bound the condition itself; ``ts`` is the
    time of the frame on which the transition was decided."""

    type: Literal["start", "update", "end"]
    alert_id: str
    subject: Subject
    started_at: float
    ended_at: float | None
    ts: float
    reason: str | None


class Lifecycle:
    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        self._states: dict[Hashable, _State] = {}

    def __len__(self) -> int:
        return len(self._states)

    @property
    def active(self) -> int:
        return sum(1 for s in self._states.values() if s.phase is Phase.ACTIVE)

    def active_ids(self) -> tuple[str, ...]:
        """Ids of the active alerts, oldest first (UUIDv7 sorts by creation)."""
        return tuple(sorted(s.alert_id for s in self._states.values() if s.phase is Phase.ACTIVE))

    def step(
        self, ts: float, holding: Mapping[Hashable, Subject], removed: Iterable[Hashable] = ()
    ) -> list[Transition]:
        """Advance to frame time ``ts``: ``holding`` are the subjects breaking the rule in this frame,
        ``removed`` the subjects that no longer exist."""
        t = self.timing
        out: list[Transition] = []
        for key in removed:
            st = self._states.pop(key, None)
            if st is not None and st.phase is Phase.ACTIVE:
                out.append(self._end(st, ts, "track_lost"))
        for key, subject in holding.items():
            st = self._states.get(key)
            if t.instant:
                out += self._instant(subject, ts)
                continue
            began = ts if subject.since is None else min(subject.since, ts)
            if st is None:
                st = self._states[key] = _State(Phase.PENDING, began, ts, subject)
            elif st.phase is Phase.COOLDOWN:
                if ts < st.cooldown_until:
                    continue
                st.phase, st.since = Phase.PENDING, max(began, st.cooldown_until)
            elif st.phase is Phase.PENDING and ts - st.last_true > t.clear_after + _EPS:
                st.since = max(began, st.last_true + _EPS)  # interrupted for too long: start over
            st.last_true, st.subject = ts, subject
            if st.phase is Phase.PENDING and ts - st.since >= t.min_duration - _EPS:
                st.phase, st.alert_id, st.last_update = Phase.ACTIVE, new_id(), ts
                out.append(Transition("start", st.alert_id, subject, st.since, None, ts, None))
            elif (
                st.phase is Phase.ACTIVE
                and t.update_interval
                and ts - st.last_update >= t.update_interval - _EPS
            ):
                st.last_update = ts
                out.append(Transition("update", st.alert_id, subject, st.since, None, ts, None))
        for key, st in list(self._states.items()):
            if key in holding:
                continue
            if st.phase is Phase.COOLDOWN:
                if ts >= st.cooldown_until:
                    del self._states[key]
            elif ts - st.last_true > t.clear_after + _EPS:
                if st.phase is Phase.ACTIVE:
                    out.append(self._end(st, ts, "cleared"))
                    if t.cooldown > 0:
                        st.phase, st.cooldown_until = Phase.COOLDOWN, ts + t.cooldown
                        continue
                del self._states[key]
        return out

    @staticmethod
    def _instant(subject: Subject, ts: float) -> list[Transition]:
        alert_id = new_id()
        return [
            Transition("start", alert_id, subject, ts, None, ts, None),
            Transition("end", alert_id, subject, ts, ts, ts, "crossed"),
        ]

    def close(self, ts: float, reason: str = "shutdown") -> list[Transition]:
        """End every active alert (the daemon is stopping or the rule is being removed)."""
        out = [self._end(st, ts, reason) for st in self._states.values() if st.phase is Phase.ACTIVE]
        self._states.clear()
        return out

    @staticmethod
    def _end(st: _State, ts: float, reason: str) -> Transition:
        return Transition("end", st.alert_id, st.subject, st.since, st.last_true, ts, reason)
