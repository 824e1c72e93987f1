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
from dataclasses import dataclass, field
from typing import Any, Literal

from .events import iso_utc


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
