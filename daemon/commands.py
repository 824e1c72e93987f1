"""Operator commands over MQTT: switch a camera or a rule on or off, snooze a rule, acknowledge alerts.

Topics (under the sink's ``topic_prefix``; docs/mqtt.md):

- ``<camera>/set``: ``ON`` / ``OFF`` — watch the camera or stop (its producer stops, its alerts end with
  reason ``disabled``, its status says ``disabled``);
- ``<camera>/rules/<rule>/set``: ``ON`` / ``OFF`` — evaluate the rule or not (its alerts end: ``disabled``);
- ``<camera>/rules/<rule>/snooze/set``: minutes (a number, at most a week) — the rule is not evaluated
  until then (its alerts end: ``snoozed``); ``0`` resumes it now;
- ``<camera>/rules/<rule>/acknowledge/set``: an active alert's id, or ``all`` (also Home Assistant's
  button payload ``PRESS``) for every active alert of the rule.

``parse`` turns a message into a ``Command`` or raises ``CommandError`` with a reason a person can act
on; the MQTT thread only parses. The pipeline applies commands on the inference thread, between frames,
so the rules never change under a frame being judged. Every command is logged; an accepted one shows on
the rule's state topic (and the camera's status), a rejected one is answered on ``<prefix>/errors``.
Overrides are kept in the state file: a rule switched off stays off across restarts and reloads until
a command switches it on.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from .config import NAME_PATTERN
from .events import iso_utc

Action = Literal["enable", "disable", "snooze", "acknowledge"]
MAX_SNOOZE_MINUTES = 7 * 24 * 60
ALL = "all"
_NAME = NAME_PATTERN.strip("^$")
_ALERT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class CommandError(ValueError):
    """A command that cannot be applied; the message says why."""


@dataclass(frozen=True, slots=True)
class Command:
    camera: str
    rule: str | None
    """None: the command is about the camera."""
    action: Action
    until: float | None = None
    """snooze: wall-clock time the snooze ends (None: resume now)."""
    alert_id: str | None = None
    """acknowledge: one alert, or ``ALL``."""
    topic: str = ""
    received_at: float = 0.0

    def describe(self) -> str:
        what = f"camera {self.camera}" if self.rule is None else f"rule {self.rule} on camera {self.camera}"
        if self.action == "snooze":
            return f"{what}: " + ("resumed" if self.until is None else f"snoozed until {iso_utc(self.until)}")
        if self.action == "acknowledge":
            return (
                f"{what}: "
                + ("every active alert" if self.alert_id == ALL else f"alert {self.alert_id}")
                + " acknowledged"
            )
        return f"{what}: {self.action}d"


@dataclass(frozen=True, slots=True)
class CommandReply:
    """A rejected command, published on ``<prefix>/errors`` (never the raw payload beyond 200 bytes)."""

    topic: str
    payload: str
    error: str
    ts: float

    def to_json(self) -> str:
        out: dict[str, Any] = {
            "topic": self.topic,
            "payload": self.payload,
            "error": self.error,
            "ts": iso_utc(self.ts),
        }
        return json.dumps(out, separators=(",", ":"))


SUBSCRIPTIONS = ("+/set", "+/rules/+/set", "+/rules/+/snooze/set", "+/rules/+/acknowledge/set")
"""Topic filters under the prefix that carry commands."""


def parse(prefix: str, topic: str, payload: bytes, now: float | None = None) -> Command:
    now = time.time() if now is None else now
    if not topic.startswith(prefix + "/"):
        raise CommandError(f"not a command topic: {topic}")
    levels = topic[len(prefix) + 1 :].split("/")
    if levels[-1] != "set" or not all(re.fullmatch(_NAME, part) for part in levels[:-1]):
        raise CommandError("expected <camera>/set or <camera>/rules/<rule>[/snooze|/acknowledge]/set")
    text = _text(payload)
    if len(levels) == 2:
        return Command(levels[0], None, _switch(text), topic=topic, received_at=now)
    if len(levels) < 4 or levels[1] != "rules" or len(levels) > 5:
        raise CommandError("expected <camera>/set or <camera>/rules/<rule>[/snooze|/acknowledge]/set")
    camera, rule = levels[0], levels[2]
    if len(levels) == 4:
        return Command(camera, rule, _switch(text), topic=topic, received_at=now)
    if levels[3] == "snooze":
        try:
            minutes = float(text)
        except ValueError:
            raise CommandError(f"snooze takes minutes (a number), not {text[:40]!r}") from None
        if not math.isfinite(minutes) or not 0 <= minutes <= MAX_SNOOZE_MINUTES:
            raise CommandError(f"snooze minutes must be between 0 and {MAX_SNOOZE_MINUTES} (a week)")
        until = None if minutes == 0 else now + minutes * 60
        return Command(camera, rule, "snooze", until=until, topic=topic, received_at=now)
    if levels[3] == "acknowledge":
        if text.lower() in (ALL, "press"):
            return Command(camera, rule, "acknowledge", alert_id=ALL, topic=topic, received_at=now)
        if not _ALERT_ID.fullmatch(text):
            raise CommandError("acknowledge takes an alert id (from an event's alert_id) or 'all'")
        return Command(camera, rule, "acknowledge", alert_id=text, topic=topic, received_at=now)
    raise CommandError(f"unknown command {levels[3]!r}: expected snooze or acknowledge")


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError("the payload is not UTF-8 text") from None


def _switch(text: str) -> Action:
    upper = text.upper()
    if upper in ("ON", "TRUE", "1"):
        return "enable"
    if upper in ("OFF", "FALSE", "0"):
        return "disable"
    raise CommandError(f"expected ON or OFF, not {text[:40]!r}")
