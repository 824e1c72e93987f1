"""Line crossing: an object's anchor point crosses a line; each crossing is one event.

Sides are taken as seen walking along the line from its first point A to its second point B. A crossing
is counted when a track's anchor moves from one side to the other between two looks *through the
segment AB* (passing beyond its ends does not count); a look with the anchor exactly on the line is
skipped, so stepping onto the line and then over it is one crossing. Running counts per direction are
kept for the life of the rule and published with every crossing. The same track's next crossing
within ``cooldown`` seconds is ignored, so a person dithering on the line is one crossing, not ten.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np

from ..geometry import Anchor, anchor_points
from .base import Rule, Scene, Subject, Timing, track_subjects

Direction = Literal["left_to_right", "right_to_left", "both"]


class LineCrossingRule(Rule):
    kind = "line_crossing"

    def __init__(
        self,
        name: str,
        timing: Timing,
        *,
        line: str,
        direction: Direction = "both",
        labels: Sequence[str] = ("person",),
        anchor: Anchor = "bottom_center",
    ) -> None:
        super().__init__(name, timing)
        self.line = line
        self.direction: Direction = direction
        self.labels = tuple(labels)
        self.anchor: Anchor = anchor
        self.counts = {"left_to_right": 0, "right_to_left": 0}
        self._last: dict[int, np.ndarray] = {}  # track id -> last anchor point off the line

    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        tracks = scene.tracks
        watched = np.isin(tracks.label, self.labels)
        points = anchor_points(tracks.xyxy, self.anchor)
        a, b = scene.lines[self.line].astype(np.float64)
        crossed = np.zeros(len(tracks), bool)
        directions: dict[int, str] = {}
        for i in np.flatnonzero(watched):
            tid = int(tracks.track_id[i])
            p1 = points[i].astype(np.float64)
            if _side(a, b, p1) == 0:
                continue  # exactly on the line: it has not crossed yet; compare with where it came from
            p0 = self._last.get(tid)
            self._last[tid] = p1
            if p0 is None:
                continue
            way = _crossing(a, b, p0, p1)
            if way is not None and self.direction in ("both", way):
                crossed[i] = True
                directions[tid] = way
        subjects = track_subjects(tracks, crossed)
        for tid, way in directions.items():
            self.counts[way] += 1
            s = subjects[tid]
            subjects[tid] = Subject(s.key, s.track_id, s.label, s.confidence, s.xyxy, direction=way)
        return subjects

    def forget(self, track_ids: tuple[int, ...]) -> None:
        for tid in track_ids:
            self._last.pop(tid, None)

    def line_info(self, subject: Subject) -> dict[str, object]:
        return {"name": self.line, "direction": subject.direction, "counts": dict(self.counts)}


def _side(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """> 0 right of A→B, < 0 left (image coordinates, y down), 0 on the line."""
    return float((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))


def _crossing(a: np.ndarray, b: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> str | None:
    s0, s1 = _side(a, b, p0), _side(a, b, p1)
    if s0 == 0 or s1 == 0 or (s0 > 0) == (s1 > 0):
        return None
    # the move p0→p1 must pass between A and B: A and B on opposite sides of the line p0p1
    t0, t1 = _side(p0, p1, a), _side(p0, p1, b)
    if t0 != 0 and t1 != 0 and (t0 > 0) == (t1 > 0):
        return None
    return "left_to_right" if s0 < 0 else "right_to_left"
