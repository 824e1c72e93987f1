"""Crowding: at least ``min_count`` objects of the watched labels inside a zone at once.

The subject is the zone itself (one alert per zone, not per person); its box is the union of the boxes
counted, and the event carries the count.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..geometry import Anchor, anchor_points, points_in_polygon
from .base import Rule, Scene, Subject, Timing


class CrowdRule(Rule):
    kind = "crowd"

    def __init__(
        self,
        name: str,
        timing: Timing,
        *,
        zone: str,
        min_count: int,
        labels: Sequence[str] = ("person",),
        anchor: Anchor = "bottom_center",
    ) -> None:
        super().__init__(name, timing, zone)
        self.min_count = min_count
        self.labels = tuple(labels)
        self.anchor: Anchor = anchor

    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        tracks = scene.tracks
        assert self.zone is not None
        inside = np.isin(tracks.label, self.labels) & self.eligible(scene)
        inside &= points_in_polygon(anchor_points(tracks.xyxy, self.anchor), scene.zones[self.zone])
        count = int(inside.sum())
        if count < self.min_count:
            return {}
        boxes = tracks.xyxy[inside]
        x1, y1 = (float(v) for v in boxes[:, :2].min(axis=0))
        x2, y2 = (float(v) for v in boxes[:, 2:].max(axis=0))
        key = ("zone", self.zone)
        return {key: Subject(key, None, None, None, (x1, y1, x2, y2), count=count)}
