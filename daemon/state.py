"""What an operator sees between events: each rule's state, each camera's object counts.

Events say what *happened*; a dashboard (Home Assistant, Node-RED) needs what *is*: is the hard-hat rule
on this camera alerting right now, how many people are in the pit, how many went through the gate. The
rule engine derives these from its lifecycles on the inference thread (cheap: a few ids per rule) and
emits one message when something changed; sinks publish them as retained MQTT topics (docs/mqtt.md) and
the state file keeps what must survive a restart (line counts, operator overrides).

``ts`` is the time of the frame that decided the state (seconds since the epoch), so a consumer can hold
a state against the event log: an alert is in ``active`` exactly when its ``start`` was decided at or
before ``ts`` and its ``end`` after.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .events import iso_utc


@dataclass(slots=True)
class LineTally:
    """Running crossing counts of one line rule; ``version`` moves on every change so that whoever
    persists or publishes it can tell, without comparing dicts."""

    counts: dict[str, int]
    suppressed: int = 0
    """Crossings counted but not notified (the same track crossed again within ``cooldown``)."""
    version: int = field(default=0, compare=False)

    @classmethod
    def zero(cls, directions: Sequence[str]) -> LineTally:
        return cls({d: 0 for d in directions})

    def align(self, directions: Sequence[str]) -> None:
        """Keep the counts of these direction names (a reload may rename them: an ``inside`` added)."""
        if list(self.counts) != list(directions):
            self.counts = {d: self.counts.get(d, 0) for d in directions}
            self.version += 1


@dataclass(frozen=True, slots=True)
class RuleState:
    camera: str
    rule: str
    kind: str
    active: tuple[str, ...]
    """Ids of the rule's active alerts, oldest first."""
    ts: float
    enabled: bool = True
    snoozed_until: float | None = None
    """Wall-clock time (epoch seconds) until which an operator snoozed the rule."""
    acknowledged: tuple[str, ...] = ()
    """Active alerts an operator acknowledged."""
    counts: dict[str, int] | None = None
    """Line rules: crossings per direction (every crossing, notified or not)."""
    suppressed: int | None = None
    enabled_by: Literal["config", "command"] = "config"
    """Whether ``enabled`` is the config's or an operator's command's (kept in the state file)."""

    @property
    def on(self) -> bool:
        return bool(self.active)

    def attributes(self) -> dict[str, Any]:
        """The JSON attributes published beside the ON/OFF state."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "kind": self.kind,
            "active": len(self.active),
            "alert_ids": list(self.active),
            "acknowledged": list(self.acknowledged),
            "enabled": self.enabled,
            "enabled_by": self.enabled_by,
            "snoozed_until": None if self.snoozed_until is None else iso_utc(self.snoozed_until),
            "ts": iso_utc(self.ts),
        }
        return out

    def count_payload(self) -> dict[str, Any] | None:
        if self.counts is None:
            return None
        return {**self.counts, "suppressed": self.suppressed or 0, "ts": iso_utc(self.ts)}


@dataclass(frozen=True, slots=True)
class CameraObjects:
    """Confirmed objects in view per label, and per zone per label (background objects left out)."""

    camera: str
    labels: dict[str, int]
    zones: dict[str, dict[str, int]] = field(default_factory=dict)
    ts: float = 0.0

    def payload(self) -> dict[str, Any]:
        return {"labels": self.labels, "zones": self.zones, "ts": iso_utc(self.ts)}

    def to_json(self) -> str:
        return json.dumps(self.payload(), separators=(",", ":"), sort_keys=True)


StateMessage = RuleState | CameraObjects


@dataclass(frozen=True, slots=True)
class Override:
    """An operator's command that outlives a restart (the state file keeps it): ``enabled`` None means
    the config decides; a camera's override is kept under rule name ``""``."""

    enabled: bool | None = None
    snoozed_until: float | None = None


@dataclass(slots=True)
class SavedState:
    """What the state file holds: line counts and overrides, by (camera, rule)."""

    tallies: dict[tuple[str, str], LineTally] = field(default_factory=dict)
    overrides: dict[tuple[str, str], Override] = field(default_factory=dict)
