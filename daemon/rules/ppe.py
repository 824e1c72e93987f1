"""PPE: every tracked person must wear the required items (a hard hat by default)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..geometry import anchor_points, coverage_matrix, points_in_polygon, top_region
from .base import Rule, Scene, Subject, Timing, track_subjects


class PpeRule(Rule):
    """A person track breaks the rule when, in the top ``head_fraction`` of its box, a required item is
    missing, or a violation label (``head``, ``no_hardhat``) is found. An item or violation box counts for a
    person when at least ``min_overlap`` of its area lies in that head region. With a ``zone``, only people
    whose feet are inside it are checked.
    """

    kind = "ppe"

    def __init__(
        self,
        name: str,
        timing: Timing,
        *,
        person_label: str = "person",
        required: Sequence[str] = ("hardhat",),
        violation_labels: Sequence[str] = (),
        head_fraction: float = 0.3,
        min_overlap: float = 0.5,
        zone: str | None = None,
    ) -> None:
        super().__init__(name, timing, zone)
        self.person_label = person_label
        self.required = tuple(required)
        self.violation_labels = tuple(violation_labels)
        self.head_fraction = head_fraction
        self.min_overlap = min_overlap

    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        tracks, dets = scene.tracks, scene.detections
        people = tracks.label == self.person_label
        if self.zone is not None:
            people &= points_in_polygon(anchor_points(tracks.xyxy, "bottom_center"), scene.zones[self.zone])
        if not people.any():
            return {}
        heads = top_region(tracks.xyxy[people], self.head_fraction)
        violating = np.zeros(len(heads), bool)
        for item in self.required:
            boxes = dets.xyxy[dets.label == item]
            worn = (coverage_matrix(heads, boxes) >= self.min_overlap).any(axis=1)
            violating |= ~worn
        if self.violation_labels:
            boxes = dets.xyxy[np.isin(dets.label, self.violation_labels)]
            violating |= (coverage_matrix(heads, boxes) >= self.min_overlap).any(axis=1)
        mask = np.zeros(len(tracks), bool)
        mask[np.flatnonzero(people)[violating]] = True
        return track_subjects(tracks, mask)
