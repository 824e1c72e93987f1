"""Which tracked objects have stopped moving, and which have never moved since the stream started.

A static shape that a detector takes for a person (a coat on a fence, a poster, a mannequin) is tracked
like a worker and would alert for as long as the camera runs. Frigate's answer is stationary handling,
and this is ours: a track whose box centre stays within ``TOLERANCE`` of its height from where it
settled is *stationary* after ``stationary_seconds``; a track that was already there in the stream's
first ``BACKGROUND_GRACE_S`` seconds and has not moved since is *background* from the start, until it
moves (``background_at_start``, on by default). A rule may ignore stationary objects, and then
background ones too (``ignore_stationary``: the default for PPE, where a static shape taken for a
hatless worker is the classic false alert; not for zones, dwell or crowds, where a person standing
still is still there). Movement is measured relative to the box size, so near and far objects are
treated alike, and in seconds of frame time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..types import Tracks

TOLERANCE = 0.25
"""A box centre that moves more than this share of the box's height has moved (detector jitter on a
still object stays well below it; a walking worker passes it within a second)."""
BACKGROUND_GRACE_S = 2.0
"""Tracks that appear within this many seconds of the first frame count as present from the start."""


@dataclass(slots=True)
class _Settled:
    x: float
    y: float
    since: float
    first_seen: float
    moved: bool = False


class Motion:
    """Per camera; ``update`` once per frame with that frame's confirmed tracks."""

    def __init__(self, stationary_seconds: float, *, background_at_start: bool = True) -> None:
        self.stationary_seconds = stationary_seconds
        self.background_at_start = background_at_start
        self._start: float | None = None
        self._tracks: dict[int, _Settled] = {}

    def update(
        self, ts: float, tracks: Tracks, removed: tuple[int, ...] = ()
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """``(stationary, background)`` masks over ``tracks``."""
        if self._start is None:
            self._start = ts
        for tid in removed:
            self._tracks.pop(tid, None)
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
            if st is None:
                st = self._tracks[tid] = _Settled(float(cx[i]), float(cy[i]), ts, ts)
            elif np.hypot(cx[i] - st.x, cy[i] - st.y) > TOLERANCE * height[i]:
                st.x, st.y, st.since, st.moved = float(cx[i]), float(cy[i]), ts, True
            stationary[i] = ts - st.since >= self.stationary_seconds
            background[i] = (
                self.background_at_start
                and not st.moved
                and st.first_seen - self._start <= BACKGROUND_GRACE_S
            )
        return stationary, background
