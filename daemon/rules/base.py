"""The rule interface: a rule looks at one frame and says which subjects break it *now*.

Timing (min_duration, clear_after, cooldown) is not the rule's business: ``lifecycle.Lifecycle`` turns
the per-frame verdicts into start/end events in seconds of frame time, the same way for every kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..attributes.vote import Attributes
from ..types import Detections, Frame, Tracks


@dataclass(frozen=True, slots=True)
class Scene:
    """Everything a rule may look at for one frame. ``zones`` (polygons) and ``lines`` (``(2, 2)`` end
    points A, B) are in pixels of this frame."""

    frame: Frame
    detections: Detections
    tracks: Tracks
    zones: Mapping[str, npt.NDArray[np.float32]]
    lines: Mapping[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    stationary: npt.NDArray[np.bool_] | None = None
    """Per track: has not moved for the camera's ``stationary_seconds`` (rules/motion.py)."""
    background: npt.NDArray[np.bool_] | None = None
    """Per track: present since the stream started and never moved: stationary from the start."""
    attributes: Attributes = field(default_factory=dict)
    """Track id → attribute → the second stage's decision (daemon/attributes/): only tracks with looks."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Who or what breaks a rule in this frame. ``key`` identifies it across frames (a track id)."""

    key: Hashable
    track_id: int | None
    label: str | None
    confidence: float | None
    xyxy: tuple[float, float, float, float] | None
    count: int | None = None
    """Crowd rules: how many objects are in the zone."""
    direction: str | None = None
    """Line rules: which way this crossing went."""
    since: float | None = None
    """When the condition began, if the rule knows better than "this frame": a rule that needs a few
    frames of evidence before it says so (PPE) dates the condition from its first evidence, so
    min_duration counts from there and started_at is right."""


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds. ``instant``: each verdict is a complete event (a line crossing): ``start`` and ``end``
    in the same frame, then ``cooldown``."""

    min_duration: float
    clear_after: float
    cooldown: float
    update_interval: float = 0.0
    instant: bool = False


class Rule(ABC):
    """A named check with its timing. Subclasses implement ``evaluate``."""

    kind: str
    ignore_stationary = False
    """Leave out objects that have not moved for ``stationary_seconds`` (set from the rule's config)."""
    enabled = True
    """A disabled rule is not evaluated (config ``enabled``, or an MQTT command at run time)."""

    def __init__(self, name: str, timing: Timing, zone: str | None = None) -> None:
        self.name = name
        self.timing = timing
        self.zone = zone

    def eligible(self, scene: Scene) -> npt.NDArray[np.bool_]:
        """The tracks this rule may alert on: never background ones (motionless since the stream
        started, or standing without a move where a motionless object stood: rules/motion.py), and not
        stationary ones either when the rule ignores them."""
        mask = np.ones(len(scene.tracks), bool)
        if scene.background is not None:
            mask &= ~scene.background
        if self.ignore_stationary and scene.stationary is not None:
            mask &= ~scene.stationary
        return mask

    @abstractmethod
    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        """The subjects for which the rule's condition holds in this frame, by key."""

    def forget(self, track_ids: tuple[int, ...]) -> None:  # noqa: B027 - only stateful rules keep state
        """These tracks are gone: drop any state kept about them."""

    def line_info(self, subject: Subject) -> dict[str, object] | None:
        """Line rules: the line's name, this crossing's direction and the running counts."""
        return None


def track_subjects(tracks: Tracks, mask: npt.NDArray[np.bool_]) -> dict[Hashable, Subject]:
    """Subjects for the tracks selected by ``mask``, keyed by track id."""
    out: dict[Hashable, Subject] = {}
    for i in np.flatnonzero(mask):
        tid = int(tracks.track_id[i])
        x1, y1, x2, y2 = (float(v) for v in tracks.xyxy[i])
        out[tid] = Subject(tid, tid, str(tracks.label[i]), float(tracks.confidence[i]), (x1, y1, x2, y2))
    return out
