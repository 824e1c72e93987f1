"""Which tracked objects have stopped moving, and which are part of the background.

A static shape that a detector takes for a person (a coat on a fence, a traffic cone, a mannequin) is
tracked like a worker and would alert for as long as the camera runs. Frigate's answer is stationary
handling, and this is ours, in two parts:

- a track whose box centre stays within ``TOLERANCE`` of its height from where it settled is
  *stationary* after ``stationary_seconds``; a rule may leave stationary objects out
  (``ignore_stationary``: the default for PPE, where a worker standing still is judged before they
  stop; not for zones, dwell or crowds, where a person who walked in and stands still is still there);
- a track that is *background* is left out by every rule until it moves (``background_at_start``, on
  by default): one that was already there in the stream's first ``BACKGROUND_GRACE_S`` seconds and has
  not moved since, and one that appears, without moving, where a motionless object stood before (a
  *static spot*: the box of a track that ended without ever having moved, after at least
  ``SPOT_MIN_S``), or where a detection stood still for ``SPOT_MIN_S`` without ever becoming a track
  (a shape found on and off at scores too low to start one). Detectors find static shapes on and off,
  and each time they are found again they get a new track: without the spots each would alert anew;
  and a shape found weakly for half a minute before a stronger detection confirms its track would alert
  on its first track.

Movement is measured relative to the box size, so near and far objects are treated alike, and in
seconds of frame time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..geometry import overlap_of_smaller
from ..types import Detections, Tracks

TOLERANCE = 0.25
"""A box centre that moves more than this share of the box's height has moved (detector jitter on a
still object stays well below it; a walking worker passes it within a second)."""
BACKGROUND_GRACE_S = 2.0
"""Tracks that appear within this many seconds of the first frame count as present from the start."""
SPOT_MIN_S = 1.0
"""A track that never moved must have lived this long for its place to become a static spot."""
SPOT_OVERLAP = 0.6
"""A new track stands on a static spot of its label when this share of the smaller of the two boxes
lies inside the other (detectors box a static shape differently each time: all of it, its top half)."""
MAX_SPOTS = 256
"""Static spots remembered per camera (the oldest are forgotten first)."""
LOOSE_OVERLAP = 0.3
"""A detection with this share of it (or of the track's box, if smaller) inside a track's box is that
track's, or part of it (a second box of the same worker, the hat on their head); the others are
*loose*."""
LOOSE_MIN_FRAMES = 5
"""Frames a loose detection must be found in, motionless over ``SPOT_MIN_S``, to leave a static spot."""
LOOSE_GAP_S = 5.0
"""A loose detection not found again for this long is forgotten."""
MAX_LOOSE = 64
"""Loose detections followed per camera."""


@dataclass(slots=True)
class _Settled:
    x: float
    y: float
    since: float
    first_seen: float
    label: str
    box: tuple[float, float, float, float]
    last_seen: float
    on_spot: bool = False
    moved: bool = False


@dataclass(slots=True)
class _Loose:
    """A detection that no track has taken, followed while it stays where it was first found."""

    label: str
    box: tuple[float, float, float, float]
    x: float
    y: float
    first_seen: float
    last_seen: float
    frames: int = 1


class Motion:
    """Per camera; ``update`` once per frame with that frame's confirmed tracks."""

    def __init__(self, stationary_seconds: float, *, background_at_start: bool = True) -> None:
        self.stationary_seconds = stationary_seconds
        self.background_at_start = background_at_start
        self._start: float | None = None
        self._tracks: dict[int, _Settled] = {}
        self._spots: deque[tuple[str, tuple[float, float, float, float]]] = deque(maxlen=MAX_SPOTS)
        self._loose: list[_Loose] = []

    def update(
        self, ts: float, tracks: Tracks, removed: tuple[int, ...] = (), detections: Detections | None = None
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """``(stationary, background)`` masks over ``tracks``; ``detections``: the frame's detections,
        whose loose ones (taken by no track) may leave static spots."""
        if self._start is None:
            self._start = ts
        if self.background_at_start and detections is not None:
            self._follow_loose(ts, detections, tracks)
        for tid in removed:
            gone = self._tracks.pop(tid, None)
            if gone is None or gone.moved or gone.on_spot:  # a known place is remembered once
                continue
            if gone.last_seen - gone.first_seen >= SPOT_MIN_S:
                self._spots.append((gone.label, gone.box))
        n = len(tracks)
        stationary = np.zeros(n, bool)
        background = np.zeros(n, bool)
        if n == 0:
            return stationary, background
        xyxy = tracks.xyxy
        cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
        cy = (xyxy[:, 1] + xyxy[:, 3]) / 2
        height = np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0)
        for i, tid in enumerate(tracks.track_id.tolist()):
            st = self._tracks.get(tid)
            x1, y1, x2, y2 = (float(v) for v in xyxy[i])
            box = (x1, y1, x2, y2)
            if st is None:
                label = str(tracks.label[i])
                st = self._tracks[tid] = _Settled(
                    x=float(cx[i]), y=float(cy[i]), since=ts, first_seen=ts, label=label, box=box,
                    last_seen=ts, on_spot=self._on_spot(label, xyxy[i]),
                )  # fmt: skip
            elif np.hypot(cx[i] - st.x, cy[i] - st.y) > TOLERANCE * height[i]:
                st.x, st.y, st.since, st.moved = float(cx[i]), float(cy[i]), ts, True
            st.box, st.last_seen = box, ts
            stationary[i] = ts - st.since >= self.stationary_seconds
            background[i] = (
                self.background_at_start
                and not st.moved
                and (st.first_seen - self._start <= BACKGROUND_GRACE_S or st.on_spot)
            )
        return stationary, background

    def _follow_loose(self, ts: float, detections: Detections, tracks: Tracks) -> None:
        """Follow the detections no track took; one found motionless in ``LOOSE_MIN_FRAMES`` frames over
        ``SPOT_MIN_S`` leaves a static spot (the track it may get later stands on it)."""
        self._loose = [c for c in self._loose if ts - c.last_seen <= LOOSE_GAP_S]
        if len(detections) == 0:
            return
        loose = np.ones(len(detections), bool)
        if len(tracks):
            loose = overlap_of_smaller(detections.xyxy, tracks.xyxy).max(axis=1) < LOOSE_OVERLAP
        for i in np.flatnonzero(loose).tolist():
            label = str(detections.label[i])
            x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
            cx, cy, height = (x1 + x2) / 2, (y1 + y2) / 2, max(y2 - y1, 1.0)
            same = [c for c in self._loose if c.label == label and c.last_seen < ts]
            near = [c for c in same if np.hypot(cx - c.x, cy - c.y) <= TOLERANCE * height]
            if not near:
                if len(self._loose) < MAX_LOOSE:
                    self._loose.append(_Loose(label, (x1, y1, x2, y2), cx, cy, ts, ts))
                continue
            c = near[0]
            c.box, c.last_seen, c.frames = (x1, y1, x2, y2), ts, c.frames + 1
            if c.frames >= LOOSE_MIN_FRAMES and ts - c.first_seen >= SPOT_MIN_S:
                self._loose.remove(c)
                if not self._on_spot(label, np.array(c.box, np.float32)):  # once: a cone found weakly
                    self._spots.append((label, c.box))  # for hours must not crowd other spots out

    def _on_spot(self, label: str, box: npt.NDArray[np.float32]) -> bool:
        """Whether a new track's first box stands where a motionless object stood: a remembered spot,
        or a track still held (perhaps lost, not yet removed) that has not moved for ``SPOT_MIN_S``."""
        spots = [b for lab, b in self._spots if lab == label]
        spots += [
            st.box
            for st in self._tracks.values()
            if st.label == label and not st.moved and st.last_seen - st.first_seen >= SPOT_MIN_S
        ]
        if not spots:
            return False
        return bool((overlap_of_smaller(box[None, :], np.array(spots, np.float32)) >= SPOT_OVERLAP).any())
