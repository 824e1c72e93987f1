"""Runs a camera's rules on each frame and turns their transitions into events for the sinks."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from ..config import CameraConfig
from ..events import BBox, Event, EventMessage, RuleRef, SnapshotRequest, iso_utc, new_id
from ..types import Detections, Frame, Tracks
from .base import Rule, Scene
from .lifecycle import Lifecycle, Transition

HOST = socket.gethostname()


class Zones:
    """A camera's named polygons, converted to pixels once per frame size."""

    def __init__(self, camera: CameraConfig) -> None:
        self._config = camera.zones
        self._cache: dict[tuple[int, int], dict[str, npt.NDArray[np.float32]]] = {}

    def for_size(self, size: tuple[int, int]) -> dict[str, npt.NDArray[np.float32]]:
        zones = self._cache.get(size)
        if zones is None:
            w, h = size
            zones = {}
            for name, zone in self._config.items():
                pts = np.asarray(zone.points, np.float32)
                scale = np.array([w, h], np.float32) if zone.units == "normalized" else np.ones(2, np.float32)
                zones[name] = pts * scale
            self._cache = {size: zones}  # a camera changes resolution rarely; keep one entry
        return zones


class RuleEngine:
    """One camera's rules, each with its own lifecycle."""

    def __init__(
        self, camera: CameraConfig, rules: Sequence[Rule], *, model: str, snapshots: bool = True
    ) -> None:
        self.camera = camera.name
        self.zones = Zones(camera)
        self.rules = list(rules)
        self.lifecycles = [Lifecycle(rule.timing) for rule in self.rules]
        self.model = model
        self.snapshots = snapshots
        self._last_ts = 0.0
        self._size = (1, 1)

    def process(
        self, frame: Frame, detections: Detections, tracks: Tracks, removed: Iterable[int] = ()
    ) -> list[EventMessage]:
        """Evaluate every rule on one frame (frames of a camera arrive in order)."""
        self._last_ts, self._size = frame.ts, frame.size
        scene = Scene(frame, detections, tracks, self.zones.for_size(frame.size))
        removed = tuple(removed)
        out: list[EventMessage] = []
        for rule, life in zip(self.rules, self.lifecycles, strict=True):
            for tr in life.step(frame.ts, rule.evaluate(scene), removed):
                out.append(self._message(rule, tr, scene))
        return out

    def close(self, reason: str = "shutdown") -> list[EventMessage]:
        """End every active alert, so that every ``start`` has its ``end``."""
        out: list[EventMessage] = []
        for rule, life in zip(self.rules, self.lifecycles, strict=True):
            out.extend(self._message(rule, tr, None) for tr in life.close(self._last_ts, reason))
        return out

    def _message(self, rule: Rule, tr: Transition, scene: Scene | None) -> EventMessage:
        subject = tr.subject
        relpath = f"{self.camera}/{tr.alert_id}.jpg" if self.snapshots else None
        bbox = None if subject.xyxy is None else BBox.from_pixels(subject.xyxy, self._size)
        event = Event(
            event_id=new_id(),
            alert_id=tr.alert_id,
            type=tr.type,
            rule=RuleRef(rule.name, rule.kind),
            camera=self.camera,
            track_id=subject.track_id,
            label=subject.label,
            confidence=subject.confidence,
            bbox=bbox,
            zone=rule.zone,
            started_at=tr.started_at,
            ended_at=tr.ended_at,
            frame_ts=tr.ts,
            snapshot=relpath,
            reason=tr.reason,
            model=self.model,
            host=HOST,
        )
        snapshot = None
        if tr.type == "start" and scene is not None and relpath is not None:
            snapshot = SnapshotRequest(
                image=scene.frame.image,
                tracks=scene.tracks,
                zones=dict(scene.zones),
                subject_xyxy=subject.xyxy,
                caption=f"{self.camera} | {rule.name} ({rule.kind}) | {iso_utc(tr.started_at)}",
                relpath=relpath,
            )
        return EventMessage(event, snapshot)
