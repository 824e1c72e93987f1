"""Line crossing: an object's anchor point crosses a line; each crossing is counted and notified once.

A crossing is counted when a track's anchor moves from one side of the line to the other between two
looks *through the segment AB* (passing beyond its ends does not count); a look with the anchor exactly
on the line is skipped, so stepping onto the line and then over it is one crossing.

Directions are named so that a gate operator reads them without a diagram (``LineConfig.directions``):
``in``/``out`` when the line says which screen side is inside, else by the motion on screen —
``left_to_right``/``right_to_left`` across an upright line, ``top_to_bottom``/``bottom_to_top`` across
a flat one. Which side is which is decided in pixels, by probing a point toward that side of the line.

Counts are the truth: every crossing is counted, in a ``LineTally`` that outlives the rule (the pipeline
keeps it across reloads and in the state file across restarts). ``cooldown`` only suppresses the
*notification* of the same track's next crossings for that long — so a person dithering on the line is
one event, not ten — and the tally says how many crossings were counted without an event.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np

from ..config import LineDirection
from ..geometry import Anchor, anchor_points
from ..state import LineTally
from .base import Rule, Scene, Subject, Timing, track_subjects


class LineCrossingRule(Rule):
    kind = "line_crossing"

    def __init__(
        self,
        name: str,
        timing: Timing,
        *,
        line: str,
        directions: tuple[LineDirection, LineDirection],
        toward: tuple[float, float],
        direction: LineDirection | Literal["both"] = "both",
        labels: Sequence[str] = ("person",),
        anchor: Anchor = "bottom_center",
        tally: LineTally | None = None,
    ) -> None:
        super().__init__(name, timing)
        self.line = line
        self.directions = directions
        self.toward = np.asarray(toward, np.float64)
        self.direction = direction
        self.labels = tuple(labels)
        self.anchor: Anchor = anchor
        self.tally = tally if tally is not None else LineTally.zero(directions)
        self.tally.align(directions)
        self._last: dict[int, np.ndarray] = {}  # track id -> last anchor point off the line
        self._quiet_until: dict[int, float] = {}  # track id -> end of its notification cooldown

    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        tracks = scene.tracks
        watched = np.isin(tracks.label, self.labels)
        points = anchor_points(tracks.xyxy, self.anchor)
        a, b = scene.lines[self.line].astype(np.float64)
        probe = (a + b) / 2 + self.toward * max(1.0, float(np.hypot(*(b - a))))
        first_side = _side(a, b, probe) > 0
        crossed = np.zeros(len(tracks), bool)
        ways: dict[int, LineDirection] = {}
        ts = scene.frame.ts
        for i in np.flatnonzero(watched):
            tid = int(tracks.track_id[i])
            p1 = points[i].astype(np.float64)
            s1 = _side(a, b, p1)
            if s1 == 0:
                continue  # exactly on the line: it has not crossed yet; compare with where it came from
            p0 = self._last.get(tid)
            self._last[tid] = p1
            if p0 is None or not _crossed(a, b, p0, p1):
                continue
            way = self.directions[0] if (s1 > 0) == first_side else self.directions[1]
            self.tally.counts[way] += 1
            self.tally.version += 1
            if self.direction not in ("both", way):
                continue
            if ts < self._quiet_until.get(tid, -np.inf):
                self.tally.suppressed += 1
                continue
            if self.timing.cooldown > 0:
                self._quiet_until[tid] = ts + self.timing.cooldown
            crossed[i] = True
            ways[tid] = way
        subjects = track_subjects(tracks, crossed)
        for tid, way in ways.items():
            s = subjects[tid]
            subjects[tid] = Subject(s.key, s.track_id, s.label, s.confidence, s.xyxy, direction=way)
        return subjects

    def forget(self, track_ids: tuple[int, ...]) -> None:
        for tid in track_ids:
            self._last.pop(tid, None)
            self._quiet_until.pop(tid, None)

    def line_info(self, subject: Subject) -> dict[str, object]:
        return {
            "name": self.line,
            "direction": subject.direction,
            "counts": dict(self.tally.counts),
            "suppressed": self.tally.suppressed,
        }


def _side(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """The sign tells the side of the line A→B that ``p`` is on; 0 on the line."""
    return float((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))


def _crossed(a: np.ndarray, b: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> bool:
    """The move p0→p1 goes from one side of the line to the other, between A and B."""
    s0, s1 = _side(a, b, p0), _side(a, b, p1)
    if s0 == 0 or s1 == 0 or (s0 > 0) == (s1 > 0):
        return False
    t0, t1 = _side(p0, p1, a), _side(p0, p1, b)  # A and B on opposite sides of the line p0p1
    return not (t0 != 0 and t1 != 0 and (t0 > 0) == (t1 > 0))
