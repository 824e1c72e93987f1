"""Events: the one payload every sink receives, and what a snapshot of one needs.

An *alert* is one violation from its ``start`` to its ``end``; every message about it is an *event* with
its own ``event_id`` (consumers de-duplicate on it) and the shared ``alert_id`` (consumers correlate on it).
Ids are UUIDv7: unique and sortable by creation time.

``EventPayload`` is the wire format and its one source: ``Event.to_dict`` fills it, and the published
JSON Schema (``sitewatch schema``, kept in docs/event.schema.json) is generated from it.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from .attributes.vote import Decision
from .config import NAME_PATTERN, LineDirection
from .types import Tracks

SCHEMA_VERSION = 2
SCHEMA_ID = f"https://sitewatch.invalid/schemas/event/{SCHEMA_VERSION}.json"
EventType = Literal["start", "update", "end"]
RuleKind = Literal["ppe", "zone_intrusion", "dwell", "crowd", "line_crossing"]
EndReason = Literal["cleared", "track_lost", "shutdown", "crossed", "reconfigured", "disabled", "snoozed"]

Uuid7 = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
]
UtcTime = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")]
Box = tuple[float, float, float, float]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RulePayload(_Wire):
    name: str
    kind: RuleKind


class BBoxPayload(_Wire):
    xyxy: Box = Field(description="x1, y1, x2, y2 in pixels.")
    normalized: Box = Field(description="x1, y1, x2, y2 as fractions (0..1) of the frame size.")


class LinePayload(_Wire):
    name: str
    direction: LineDirection = Field(
        description="'in'/'out' for a line with an inside; else the motion on screen: 'left_to_right' or "
        "'right_to_left' across an upright line, 'top_to_bottom' or 'bottom_to_top' across a flat one."
    )
    counts: dict[LineDirection, Annotated[int, Field(ge=0)]] = Field(
        description="Crossings per direction since the rule began counting (kept across restarts and "
        "reloads): every crossing, notified or not."
    )
    suppressed: int = Field(
        ge=0,
        description="Of those, crossings not notified: the same object crossed again within cooldown.",
    )


class AttributePayload(_Wire):
    value: str | None = Field(description="The decided value; null while the vote is undecided.")
    confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Mean classifier confidence of the looks that agree with the value (0 if undecided)."
    )
    looks: Annotated[int, Field(ge=0)] = Field(description="Looks that voted (confident enough).")


class EventPayload(_Wire):
    """One message about an alert. Every sink (JSONL, MQTT) carries this payload."""

    model_config = ConfigDict(title="sitewatch event")

    schema_version: Literal[2] = Field(description="Bumped on any incompatible change.")
    event_id: Uuid7 = Field(description="Unique per message; de-duplicate on it.")
    alert_id: Uuid7 = Field(description="Shared by the start and end of one alert.")
    type: EventType
    rule: RulePayload
    camera: Annotated[str, Field(pattern=NAME_PATTERN)]
    track_id: Annotated[int, Field(ge=1)] | None = Field(description="null for zone-level rules (crowd).")
    label: str | None
    confidence: Annotated[float, Field(ge=0, le=1)] | None
    bbox: BBoxPayload | None
    zone: str | None
    line: LinePayload | None = Field(
        description="Line rules: the line, this crossing's direction, and the running counts per direction."
    )
    count: Annotated[int, Field(ge=0)] | None = Field(description="Crowd rules: objects in the zone.")
    started_at: UtcTime = Field(description="When the condition began (UTC).")
    ended_at: UtcTime | None = Field(description="End events: the last time the condition held (UTC).")
    duration_s: float = Field(ge=0)
    frame_ts: UtcTime = Field(description="Time of the frame that decided this event.")
    frame_index: Annotated[int, Field(ge=0)] | None = Field(
        description="Index of that frame in the camera's stream (counted from 0 since the daemon started)."
    )
    media_ts: Annotated[float, Field(ge=0)] | None = Field(
        description="Files: seconds into the file of that frame; null for live cameras."
    )
    snapshot: str | None = Field(description="Snapshot path relative to the snapshot dir.")
    clip: str | None = Field(
        None,
        description="Evidence clip (MP4) path relative to the clips dir: the seconds around the alert's "
        "start; written post_seconds after it.",
    )
    attributes: dict[str, AttributePayload] | None = Field(
        None,
        description="The tracked object's attributes from the second-stage classifiers ([[classifiers]]), "
        "by name; null when none judge it.",
    )
    reason: EndReason | None
    model: str
    host: str


def event_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of an event, generated from ``EventPayload``."""
    schema = EventPayload.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


_id_lock = threading.Lock()
_last_ms = 0
_seq = 0


def new_id() -> str:
    """A UUIDv7 string (RFC 9562): 48-bit milliseconds, then a counter so ids made in the same
    millisecond still sort in creation order, then random bits."""
    global _last_ms, _seq
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _seq += 1
            if _seq > 0xFFF:  # 4096 ids in one millisecond: borrow the next millisecond
                ms, _seq = ms + 1, 0
        else:
            _seq = 0
        _last_ms = ms
        seq = _seq
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))


def iso_utc(ts: float) -> str:
    """Seconds since the epoch → ``2026-11-30T12:00:00.123Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RuleRef:
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class BBox:
    """A box in pixels and normalised to the frame size (0..1), both ``x1, y1, x2, y2``."""

    xyxy: tuple[float, float, float, float]
    normalized: tuple[float, float, float, float]

    @classmethod
    def from_pixels(cls, xyxy: tuple[float, float, float, float], size: tuple[int, int]) -> BBox:
        w, h = size
        x1, y1, x2, y2 = (round(float(v), 1) for v in xyxy)
        return cls((x1, y1, x2, y2), (round(x1 / w, 5), round(y1 / h, 5), round(x2 / w, 5), round(y2 / h, 5)))


@dataclass(frozen=True, slots=True)
class Event:
    """One message about an alert. Times are seconds since the epoch (UTC); JSON carries ISO-8601."""

    event_id: str
    alert_id: str
    type: EventType
    rule: RuleRef
    camera: str
    track_id: int | None
    label: str | None
    confidence: float | None
    bbox: BBox | None
    zone: str | None
    line: dict[str, Any] | None
    """Line rules: ``{"name", "direction", "counts": {"in": n, "out": m}, "suppressed": k}``."""
    count: int | None
    """Crowd rules: objects in the zone."""
    started_at: float
    ended_at: float | None
    frame_ts: float
    snapshot: str | None
    reason: str | None
    model: str
    host: str
    frame_index: int | None = None
    media_ts: float | None = None
    attributes: Mapping[str, Decision] | None = None
    clip: str | None = None

    @property
    def duration_s(self) -> float:
        end = self.ended_at if self.ended_at is not None else self.frame_ts
        return round(end - self.started_at, 3)

    def payload(self) -> EventPayload:
        """The wire form. Built without re-validation (the pipeline made these values); the tests
        validate what the sinks write against the schema generated from the same model."""
        bbox = self.bbox
        return EventPayload.model_construct(
            schema_version=SCHEMA_VERSION,
            event_id=self.event_id,
            alert_id=self.alert_id,
            type=self.type,
            rule=RulePayload.model_construct(name=self.rule.name, kind=self.rule.kind),
            camera=self.camera,
            track_id=self.track_id,
            label=self.label,
            confidence=None if self.confidence is None else round(self.confidence, 4),
            bbox=None
            if bbox is None
            else BBoxPayload.model_construct(xyxy=bbox.xyxy, normalized=bbox.normalized),
            zone=self.zone,
            line=None if self.line is None else LinePayload.model_validate(self.line),
            count=self.count,
            started_at=iso_utc(self.started_at),
            ended_at=None if self.ended_at is None else iso_utc(self.ended_at),
            duration_s=self.duration_s,
            frame_ts=iso_utc(self.frame_ts),
            frame_index=self.frame_index,
            media_ts=self.media_ts,
            snapshot=self.snapshot,
            clip=self.clip,
            attributes=None
            if not self.attributes
            else {
                name: AttributePayload.model_construct(
                    value=d.value, confidence=round(d.confidence, 4), looks=d.looks
                )
                for name, d in sorted(self.attributes.items())
            },
            reason=self.reason,
            model=self.model,
            host=self.host,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.payload().model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """What the snapshot sink needs to draw the frame that started an alert, off the inference thread.

    ``image`` is the decoded frame itself (never modified after decoding, so shared without a copy);
    ``zones`` (polygons) and ``lines`` are in pixels; ``subject_xyxy`` is the violator, drawn thick and red.
    """

    image: npt.NDArray[np.uint8] = field(repr=False)
    tracks: Tracks
    zones: dict[str, npt.NDArray[np.float32]]
    lines: dict[str, npt.NDArray[np.float32]]
    subject_xyxy: tuple[float, float, float, float] | None
    caption: str
    relpath: str


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A camera's state for sinks that publish it (MQTT, retained). No URL: names only."""

    camera: str
    state: str
    fps: float
    ts: float
    host: str = ""
    """The replica watching the camera (events' ``host``)."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "camera": self.camera,
                "state": self.state,
                "fps": round(self.fps, 2),
                "ts": iso_utc(self.ts),
                "host": self.host,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class EventMessage:
    """What travels on the event bus to every sink."""

    event: Event
    snapshot: SnapshotRequest | None = None
