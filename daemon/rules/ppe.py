"""PPE: every tracked person must wear the required items (a hard hat by default).

Each item is looked for in its body region of the person's box: ``head`` (the top ``head_fraction``),
``upper_body`` (from there down to 60 % of the height: vests, harnesses) or ``body`` (the whole box:
boots, gloves). The region of an item comes from ``item_regions``, else from its name: hats, helmets and
hoods go on the head, vests on the upper body, anything else anywhere on the body.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..geometry import anchor_points, coverage_matrix, points_in_polygon, top_region
from .base import Rule, Scene, Subject, Timing, track_subjects

Region = Literal["head", "upper_body", "body"]
UPPER_BODY_END = 0.6
"""The upper body ends at this share of the person box's height."""


def default_region(item: str) -> Region:
    name = item.lower()
    if any(w in name for w in ("hat", "helmet", "hood", "head", "cap")):
        return "head"
    if any(w in name for w in ("vest", "jacket", "harness", "hi-vis", "hivis")):
        return "upper_body"
    return "body"


def body_regions(
    boxes: npt.NDArray[np.float32], head_fraction: float
) -> dict[Region, npt.NDArray[np.float32]]:
    h = boxes[:, 3] - boxes[:, 1]
    upper = boxes.copy()
    upper[:, 1] = boxes[:, 1] + h * np.float32(head_fraction)
    upper[:, 3] = boxes[:, 1] + h * np.float32(UPPER_BODY_END)
    return {"head": top_region(boxes, head_fraction), "upper_body": upper, "body": boxes}


class PpeRule(Rule):
    """A person track breaks the rule when a required item is missing from its region, or a violation
    label (``head``, ``no_hardhat``) is found in the head region. An item or violation box counts for a
    person when at least ``min_overlap`` of its area lies in that region. With a ``zone``, only people
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
        item_regions: Mapping[str, Region] | None = None,
    ) -> None:
        super().__init__(name, timing, zone)
        self.person_label = person_label
        self.required = tuple(required)
        self.violation_labels = tuple(violation_labels)
        self.head_fraction = head_fraction
        self.min_overlap = min_overlap
        regions = dict(item_regions or {})
        self.regions: dict[str, Region] = {
            item: regions.get(item, default_region(item)) for item in self.required
        }

    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        tracks, dets = scene.tracks, scene.detections
        people = tracks.label == self.person_label
        if self.zone is not None:
            people &= points_in_polygon(anchor_points(tracks.xyxy, "bottom_center"), scene.zones[self.zone])
        if not people.any():
            return {}
        regions = body_regions(tracks.xyxy[people], self.head_fraction)
        violating = np.zeros(int(people.sum()), bool)
        for item in self.required:
            boxes = dets.xyxy[dets.label == item]
            worn = (coverage_matrix(regions[self.regions[item]], boxes) >= self.min_overlap).any(axis=1)
            violating |= ~worn
        if self.violation_labels:
            boxes = dets.xyxy[np.isin(dets.label, self.violation_labels)]
            violating |= (coverage_matrix(regions["head"], boxes) >= self.min_overlap).any(axis=1)
        mask = np.zeros(len(tracks), bool)
        mask[np.flatnonzero(people)[violating]] = True
        return track_subjects(tracks, mask)
