"""Events: the one payload every sink receives, and what a snapshot of one needs.

An *alert* is one violation from its ``start`` to its ``end``; every message about it is an *event* with
its own ``event_id`` (consumers de-duplicate on it) and the shared ``alert_id`` (consumers correlate on it).
Ids are UUIDv7: unique and sortable by creation time.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .types import Tracks

SCHEMA_VERSION = 1
EventType = Literal["start", "update", "end"]

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
    """Line rules: ``{"name", "direction", "counts": {"left_to_right": n, "right_to_left": m}}``."""
    count: int | None
    """Crowd rules: objects in the zone."""
    started_at: float
    ended_at: float | None
    frame_ts: float
    snapshot: str | None
    reason: str | None
    model: str
    host: str

    @property
    def duration_s(self) -> float:
        end = self.ended_at if self.ended_at is not None else self.frame_ts
        return round(end - self.started_at, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "alert_id": self.alert_id,
            "type": self.type,
            "rule": {"name": self.rule.name, "kind": self.rule.kind},
            "camera": self.camera,
            "track_id": self.track_id,
            "label": self.label,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "bbox": None
            if self.bbox is None
            else {"xyxy": list(self.bbox.xyxy), "normalized": list(self.bbox.normalized)},
            "zone": self.zone,
            "line": self.line,
            "count": self.count,
            "started_at": iso_utc(self.started_at),
            "ended_at": None if self.ended_at is None else iso_utc(self.ended_at),
            "duration_s": self.duration_s,
            "frame_ts": iso_utc(self.frame_ts),
            "snapshot": self.snapshot,
            "reason": self.reason,
            "model": self.model,
            "host": self.host,
        }

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

    def to_json(self) -> str:
        return json.dumps(
            {"camera": self.camera, "state": self.state, "fps": round(self.fps, 2), "ts": iso_utc(self.ts)},
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class EventMessage:
    """What travels on the event bus to every sink."""

    event: Event
    snapshot: SnapshotRequest | None = None
