"""Runs a camera's rules on each frame and turns their transitions into events for the sinks."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from ..attributes.vote import Attributes
from ..config import CameraConfig
from ..events import BBox, Event, EventMessage, RuleRef, SnapshotRequest, iso_utc, new_id
from ..types import Detections, Frame, Tracks
from .base import Rule, Scene
from .lifecycle import Lifecycle, Transition
from .motion import Motion

HOST = socket.gethostname()


Shapes = dict[str, npt.NDArray[np.float32]]


class Geometry:
    """A camera's named zones and lines, converted to pixels once per frame size."""

    def __init__(self, camera: CameraConfig) -> None:
        self._camera = camera
        self._size: tuple[int, int] | None = None
        self.zones: Shapes = {}
        self.lines: Shapes = {}

    def for_size(self, size: tuple[int, int]) -> Geometry:
        if size != self._size:  # a camera changes resolution rarely
            self._size = size
            self.zones = {n: _pixels(z.points, z.units, size) for n, z in self._camera.zones.items()}
            self.lines = {n: _pixels(ln.points, ln.units, size) for n, ln in self._camera.lines.items()}
        return self


def _pixels(points: list[tuple[float, float]], units: str, size: tuple[int, int]) -> npt.NDArray[np.float32]:
    pts = np.asarray(points, np.float32)
    return pts * np.array(size, np.float32) if units == "normalized" else pts


class RuleEngine:
    """One camera's rules, each with its own lifecycle."""

    def __init__(
        self, camera: CameraConfig, rules: Sequence[Rule], *, model: str, snapshots: bool = True
    ) -> None:
        self.camera = camera.name
        self.geometry = Geometry(camera)
        self.rules = list(rules)
        self.lifecycles = [Lifecycle(rule.timing) for rule in self.rules]
        self.motion = Motion(camera.stationary_seconds, background_at_start=camera.background_at_start)
        self.model = model
        self.snapshots = snapshots
        self._last_ts = 0.0
        self._last_frame: tuple[int, float | None] | None = None
        self._size = (1, 1)
        self._attributes: Attributes = {}

    def process(
        self,
        frame: Frame,
        detections: Detections,
        tracks: Tracks,
        removed: Iterable[int] = (),
        attributes: Attributes | None = None,
    ) -> list[EventMessage]:
        """Evaluate every rule on one frame (frames of a camera arrive in order); ``attributes``: the
        second stage's decisions for the camera's tracks."""
        self._last_ts, self._size = frame.ts, frame.size
        self._last_frame = (frame.index, frame.media_ts)
        geometry = self.geometry.for_size(frame.size)
        removed = tuple(removed)
        stationary, background = self.motion.update(frame.ts, tracks, removed)
        if attributes is not None:
            self._attributes = attributes
        scene = Scene(
            frame, detections, tracks, geometry.zones, geometry.lines, stationary, background,
            self._attributes,
        )  # fmt: skip
        out: list[EventMessage] = []
        for rule, life in zip(self.rules, self.lifecycles, strict=True):
            if rule.enabled:
                out.extend(self._message(rule, tr, scene) for tr in life.step(frame.ts, rule.evaluate(scene), removed))
            rule.forget(removed)
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
        index, media_ts = self._last_frame or (None, None)  # the frame being processed (or the last one)
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
            line=rule.line_info(subject),
            count=subject.count,
            started_at=tr.started_at,
            ended_at=tr.ended_at,
            frame_ts=tr.ts,
            snapshot=relpath,
            reason=tr.reason,
            model=self.model,
            host=HOST,
            frame_index=index,
            media_ts=media_ts,
            attributes=None if subject.track_id is None else self._attributes.get(subject.track_id),
        )
        snapshot = None
        if tr.type == "start" and scene is not None and relpath is not None:
            snapshot = SnapshotRequest(
                image=scene.frame.image,
                tracks=scene.tracks,
                zones=dict(scene.zones),
                lines=dict(scene.lines),
                subject_xyxy=subject.xyxy,
                caption=f"{self.camera} | {rule.name} ({rule.kind}) | {iso_utc(tr.started_at)}",
                relpath=relpath,
            )
        return EventMessage(event, snapshot)
