"""Zone intrusion: an object of the watched labels with its anchor point inside a polygon."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..geometry import Anchor, anchor_points, points_in_polygon
from .base import Rule, Scene, Subject, Timing, track_subjects


class ZoneIntrusionRule(Rule):
    kind = "zone_intrusion"

    def __init__(
        self,
        name: str,
        timing: Timing,
        *,
        zone: str,
        labels: Sequence[str] = ("person",),
        anchor: Anchor = "bottom_center",
    ) -> None:
        super().__init__(name, timing, zone)
        self.labels = tuple(labels)
        self.anchor: Anchor = anchor

    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        tracks = scene.tracks
        mask = np.isin(tracks.label, self.labels) & self.eligible(scene)
        if mask.any():
            assert self.zone is not None
            mask &= points_in_polygon(anchor_points(tracks.xyxy, self.anchor), scene.zones[self.zone])
        return track_subjects(tracks, mask)


class DwellRule(ZoneIntrusionRule):
    """Loitering: inside the zone for more than ``max_seconds`` (the lifecycle's ``min_duration``)."""

    kind = "dwell"
