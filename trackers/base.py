"""The tracker interface: one instance per camera, fed that camera's detections in frame order."""

from __future__ import annotations

from typing import Protocol

from sitewatch.daemon.types import Detections, TrackUpdate


class Tracker(Protocol):
    def update(
        self, detections: Detections, ts: float, frame_size: tuple[int, int] | None = None
    ) -> TrackUpdate:
        """Associate one frame's detections (taken at ``ts`` seconds) with the tracks so far.

        ``frame_size`` (width, height) lets a tracker end tracks that walked out of the picture.

        Returns the confirmed tracks matched in this frame and the ids of confirmed tracks removed.
        Ids are unique for the tracker's life and never reused.
        """
        ...
