"""Runs a camera's rules on each frame and turns their transitions into events for the sinks."""

from __future__ import annotations

import socket
import time
from collections.abc import Collection, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from ..attributes.vote import Attributes
from ..config import CameraConfig
from ..events import BBox, Event, EventMessage, RuleRef, SnapshotRequest, iso_utc, new_id
from ..geometry import anchor_points, points_in_polygon
from ..state import CameraObjects, LineTally, RuleState, StateMessage
from ..types import Detections, Frame, Tracks
from .base import Rule, Scene
from .lifecycle import Lifecycle, Transition
from .motion import Motion

OBJECTS_INTERVAL = 0.5
"""Seconds of frame time between two object-count updates of a camera (counts flicker with the
detector; the latest value is always published once the interval has passed)."""


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
        self,
        camera: CameraConfig,
        rules: Sequence[Rule],
        *,
        model: str,
        snapshots: bool = True,
        clips: Collection[str] = (),
        host: str | None = None,
    ) -> None:
        self.camera = camera.name
        self.host = host or socket.gethostname()
        """The ``host`` events carry: the replica's name when sharded (``Config.replica``)."""
        self.geometry = Geometry(camera)
        self.rules = list(rules)
        self.lifecycles = [Lifecycle(rule.timing) for rule in self.rules]
        self.motion = Motion(camera.stationary_seconds, background_at_start=camera.background_at_start)
        self.model = model
        self.snapshots = snapshots
        self.clips = frozenset(clips)
        """Rule kinds whose alerts get an evidence clip."""
        self._last_ts = 0.0
        self._last_frame: tuple[int, float | None] | None = None
        self._size = (1, 1)
        self._attributes: Attributes = {}
        self.snoozed_until: dict[str, float] = {}
        """Rule name → wall-clock time until which an operator snoozed it (it is not evaluated)."""
        self.enabled_by_command: set[str] = set()
        """Rules whose ``enabled`` an operator's command set (persisted; the config's value otherwise)."""
        self.acknowledged: set[str] = set()
        """Active alerts an operator acknowledged."""
        self._published: list[tuple[object, ...] | None] = [None] * len(self.rules)
        self.current: dict[str, RuleState] = {}
        """The latest state of each rule, as last published (the web page reads it from its thread)."""
        self._objects: tuple[object, ...] | None = None
        self._objects_due = -np.inf
        self._objects_pending: CameraObjects | None = None

    @property
    def last_ts(self) -> float:
        """Time of the last frame processed (0 before the first)."""
        return self._last_ts

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
        stationary, background = self.motion.update(frame.ts, tracks, removed, detections)
        if attributes is not None:
            self._attributes = attributes
        scene = Scene(
            frame, detections, tracks, geometry.zones, geometry.lines, stationary, background,
            self._attributes,
        )  # fmt: skip
        out: list[EventMessage] = []
        if self.snoozed_until:
            now = time.time()
            for name in [n for n, until in self.snoozed_until.items() if until <= now]:
                del self.snoozed_until[name]  # the snooze is over: the rule runs again
        for rule, life in zip(self.rules, self.lifecycles, strict=True):
            if rule.enabled and rule.name not in self.snoozed_until:
                out.extend(
                    self._message(rule, tr, scene)
                    for tr in life.step(frame.ts, rule.evaluate(scene), removed)
                )
            rule.forget(removed)

        self._count_objects(scene)
        return out

    # --- what an operator sees between events (daemon/state.py) ------------------------------------

    def updates(self, ts: float, *, everything: bool = False) -> list[StateMessage]:
        """The rule states that changed since the last call (all of them with ``everything``: at start
        and after a reload), and the camera's object counts when they changed (at most every
        ``OBJECTS_INTERVAL`` seconds of frame time, the latest value always published in the end)."""
        out: list[StateMessage] = []
        live: set[str] = set()
        for i, (rule, life) in enumerate(zip(self.rules, self.lifecycles, strict=True)):
            active = life.active_ids()
            live.update(active)
            acked = tuple(a for a in active if a in self.acknowledged)
            tally: LineTally | None = getattr(rule, "tally", None)
            snoozed = self.snoozed_until.get(rule.name)
            key = (active, rule.enabled, snoozed, acked, None if tally is None else tally.version)
            if everything or key != self._published[i]:
                self._published[i] = key
                self.current[rule.name] = RuleState(
                    self.camera, rule.name, rule.kind, active, ts, rule.enabled, snoozed, acked,
                    None if tally is None else dict(tally.counts),
                    None if tally is None else tally.suppressed,
                    enabled_by="command" if rule.name in self.enabled_by_command else "config",
                )  # fmt: skip
                out.append(self.current[rule.name])
        self.acknowledged &= live  # an ended alert is no longer acknowledged
        if self._objects_pending is not None and (everything or ts >= self._objects_due):
            out.append(self._objects_pending)
            self._objects_pending = None
            self._objects_due = ts + OBJECTS_INTERVAL
        return out

    def _count_objects(self, scene: Scene) -> None:
        tracks = scene.tracks
        keep = np.ones(len(tracks), bool) if scene.background is None else ~scene.background
        labels = tracks.label[keep]
        names, counts = np.unique(labels, return_counts=True)
        by_label = dict(zip(names.tolist(), counts.tolist(), strict=True))
        zones: dict[str, dict[str, int]] = {}
        if scene.zones:
            feet = anchor_points(tracks.xyxy[keep], "bottom_center")
            for zone, polygon in scene.zones.items():
                inside = points_in_polygon(feet, polygon) if len(feet) else np.zeros(0, bool)
                z_names, z_counts = np.unique(labels[inside], return_counts=True)
                zones[zone] = dict(zip(z_names.tolist(), z_counts.tolist(), strict=True))
        key = (by_label, zones)
        if key != self._objects:
            self._objects = key
            self._objects_pending = CameraObjects(self.camera, by_label, zones, scene.frame.ts)

    # --- operator commands (applied on the inference thread, between frames) -----------------------

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def set_enabled(self, name: str, enabled: bool) -> list[EventMessage]:
        """Switch a rule on or off; switching off ends its active alerts (reason ``disabled``)."""
        rule = self.rule(name)
        if rule is None:
            raise KeyError(name)
        rule.enabled = enabled
        self.enabled_by_command.add(name)
        return [] if enabled else self._end_rule(rule, "disabled")

    def snooze(self, name: str, until: float | None) -> list[EventMessage]:
        """Stop evaluating a rule until ``until`` (wall clock; None: resume now). Its active alerts end
        (reason ``snoozed``): while snoozed the rule says nothing, so nothing it said may stay open."""
        rule = self.rule(name)
        if rule is None:
            raise KeyError(name)
        if until is None:
            self.snoozed_until.pop(name, None)
            return []
        self.snoozed_until[name] = until
        return self._end_rule(rule, "snoozed")

    def acknowledge(self, name: str, alert_id: str | None = None) -> int:
        """Mark one active alert of rule ``name`` (or, with None, every one) acknowledged; returns how
        many. Raises KeyError for an unknown rule, LookupError for an alert id that is not active."""
        rule = self.rule(name)
        if rule is None:
            raise KeyError(name)
        active = self.lifecycles[self.rules.index(rule)].active_ids()
        if alert_id is None:
            self.acknowledged.update(active)
            return len(active)
        if alert_id not in active:
            raise LookupError(alert_id)
        self.acknowledged.add(alert_id)
        return 1

    def _end_rule(self, rule: Rule, reason: str) -> list[EventMessage]:
        life = self.lifecycles[self.rules.index(rule)]
        return [self._message(rule, tr, None) for tr in life.close(self._last_ts, reason)]

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
            host=self.host,
            frame_index=index,
            media_ts=media_ts,
            attributes=None if subject.track_id is None else self._attributes.get(subject.track_id),
            clip=f"{self.camera}/{tr.alert_id}.mp4" if rule.kind in self.clips else None,
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
