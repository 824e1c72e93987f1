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
  ``SPOT_MIN_S``). Detectors find static shapes on and off, and each time they are found again they
  get a new track: without the spots each would alert anew.

Movement is measured relative to the box size, so near and far objects are treated alike, and in
seconds of frame time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..geometry import overlap_of_smaller
from ..types import Tracks

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


class Motion:
    """Per camera; ``update`` once per frame with that frame's confirmed tracks."""

    def __init__(self, stationary_seconds: float, *, background_at_start: bool = True) -> None:
        self.stationary_seconds = stationary_seconds
        self.background_at_start = background_at_start
        self._start: float | None = None
        self._tracks: dict[int, _Settled] = {}
        self._spots: deque[tuple[str, tuple[float, float, float, float]]] = deque(maxlen=MAX_SPOTS)

    def update(
        self, ts: float, tracks: Tracks, removed: tuple[int, ...] = ()
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """``(stationary, background)`` masks over ``tracks``."""
        if self._start is None:
            self._start = ts
        for tid in removed:
            gone = self._tracks.pop(tid, None)
            if gone is not None and not gone.moved and gone.last_seen - gone.first_seen >= SPOT_MIN_S:
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
