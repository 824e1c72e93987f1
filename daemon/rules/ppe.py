"""PPE: every tracked person must wear the required items (a hard hat by default).

Each item is looked for in its body region of the person's box: ``head`` (the top ``head_fraction``),
``upper_body`` (from there down to 60 % of the height: vests, harnesses) or ``body`` (the whole box:
boots, gloves). The region of an item comes from ``item_regions``, else from its name: hats, helmets and
hoods go on the head, vests on the upper body, anything else anywhere on the body.

Three things keep the alerts trustworthy (docs/rules.md):

- **Exclusive association** (rules/association.py): each item or violation box belongs to at most one
  person per frame, so the bare head of a worker behind does not also count against the worker in front.
  Where a hat and a bare head both claim one head (the detector's suppression works per class), the
  more confident one says what the head shows, and a near tie (within ``CONTRADICTION_MARGIN``) shows
  nothing: the frame is unclear.
- **Evidence before absence**: each frame gives each person an observation — compliant, violation,
  unclear or unknown — and only a vote over the last ``evidence_seconds`` decides. A frame is *unknown*
  when the head cannot be judged: too small (a head under ``min_head_px``), cut by the frame edge, or
  covered by a nearer person's box; it is *unclear* when the head is in view but, with a violation
  label (``head``) in the model, a hat is merely not found — a missed hat is not a bare head. A
  violation needs decided frames spanning at least ``min_evidence_seconds`` in the window and making
  up at least ``seen_share`` of the frames with the head in view (a bare head glimpsed now and then on
  a head the detector otherwise sees nothing on is no evidence), of which at least ``violation_share``
  say violation, the latest decided one included; the condition is then dated from the first
  violation since the last compliant frame, so ``min_duration`` counts from the evidence, not from
  the vote.
- **Stationary objects** are left out (``ignore_stationary``, rules/motion.py).

With ``attributes`` (e.g. ``{hardhat = "yes"}``) a person's observation also weighs the second stage's
decision (daemon/attributes/): another decided value is a violation, an undecided one is unknown. With
items required as well, any violation wins, and compliance needs both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from ..attributes.vote import Decision
from ..geometry import Region, anchor_points, body_regions, coverage_matrix, points_in_polygon
from ..types import Detections
from .association import associate, rivals
from .base import Rule, Scene, Subject, Timing, track_subjects

HEAD_SHARE = 0.15
"""A standing person's head is about this share of their height (for ``min_head_px``)."""
EDGE_PX = 2.0
"""A head region this close to the frame's top, left or right edge is cut by it."""
OCCLUDED_SHARE = 0.3
"""A head region this much covered by a nearer person's box is occluded."""
CONTRADICTION_MARGIN = 0.1
"""A hat and a bare head on one head whose confidences are this close contradict each other."""
CONTRADICTED = "<contradicted>"
"""What a head shows when a hat and a bare head claim it equally (no model label looks like this)."""


class Observation(IntEnum):
    """What one frame says about one person."""

    UNKNOWN = 0
    """The head cannot be judged: too small, cut by the frame's edge, hidden by a nearer person."""
    COMPLIANT = 1
    VIOLATION = 2
    UNCLEAR = 3
    """The head is in view, but the detector shows neither a hat nor a bare head (or both, tied)."""


def default_region(item: str) -> Region:
    name = item.lower()
    if any(w in name for w in ("hat", "helmet", "hood", "head", "cap")):
        return "head"
    if any(w in name for w in ("vest", "jacket", "harness", "hi-vis", "hivis")):
        return "upper_body"
    return "body"


def combine(*observations: Observation) -> Observation:
    """Several checks of one person: any violation is a violation; compliant only if all are; else
    unknown if any check could not judge the head at all, unclear if the checks merely found nothing."""
    if Observation.VIOLATION in observations:
        return Observation.VIOLATION
    if all(o is Observation.COMPLIANT for o in observations):
        return Observation.COMPLIANT
    if Observation.UNKNOWN in observations:
        return Observation.UNKNOWN
    return Observation.UNCLEAR


class PpeRule(Rule):
    """A person track breaks the rule when the vote over its recent observations says violation: a
    violation label (``head``, ``no_hardhat``) assigned to its head, or a required item missing where
    its absence is evidence. An item or violation box counts for a person when at least ``min_overlap``
    of its area lies in that region and the frame-wide assignment gives it to that person. With a
    ``zone``, only people whose feet are inside it are checked.
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
        evidence_seconds: float = 1.0,
        violation_share: float = 0.6,
        min_evidence_seconds: float = 0.3,
        min_head_px: float = 8.0,
        seen_share: float = 0.4,
        attributes: Mapping[str, str] | None = None,
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
        self.evidence_seconds = evidence_seconds
        self.violation_share = violation_share
        self.min_evidence_seconds = min_evidence_seconds
        self.min_head_px = min_head_px
        self.seen_share = seen_share
        head_items = tuple(i for i in self.required if self.regions[i] == "head")
        self._head_labels = head_items + self.violation_labels
        self.attributes = dict(attributes or {})
        self._items = bool(self.required or self.violation_labels)
        self._votes: dict[int, deque[tuple[float, Observation]]] = {}

    def observe(self, scene: Scene) -> tuple[npt.NDArray[np.int64], list[Observation]]:
        """This frame's observation of each checked person: ``(track rows, observations)``."""
        tracks, dets = scene.tracks, scene.detections
        people = (tracks.label == self.person_label) & self.eligible(scene)
        if self.zone is not None and people.any():
            people &= points_in_polygon(anchor_points(tracks.xyxy, "bottom_center"), scene.zones[self.zone])
        rows = np.flatnonzero(people)
        if len(rows) == 0:
            return rows, []
        boxes = tracks.xyxy[rows]
        regions = body_regions(boxes, self.head_fraction)
        big_enough = (boxes[:, 3] - boxes[:, 1]) * HEAD_SHARE >= self.min_head_px
        visible = self._visible(
            boxes, regions["head"], tracks.xyxy[tracks.label == self.person_label], scene.frame.size
        )
        head_item = self._head_items(regions["head"], dets)
        worn = {item: head_item == item for item in self.required if self.regions[item] == "head"}
        for item in self.required:
            region = self.regions[item]
            if region == "head":
                continue
            owner = associate(
                regions[region], dets.xyxy[dets.label == item], self.min_overlap,
                one_per_person=region == "upper_body", top_aligned=False,
            )  # fmt: skip
            worn[item] = np.isin(np.arange(len(rows)), owner[owner >= 0])
        observations = []
        for k in range(len(rows)):
            missing = [item for item in self.required if not worn[item][k]]
            if not big_enough[k]:
                obs = Observation.UNKNOWN  # a few pixels of head: neither a hat nor a bare head is reliable
            elif head_item[k] in self.violation_labels:
                obs = Observation.VIOLATION  # a bare head seen (a seen head is visible, hidden or not)
            elif not missing:
                obs = Observation.COMPLIANT
            elif not visible[k]:
                obs = Observation.UNKNOWN  # absent, or just hidden by someone nearer or cut off
            elif any(self.regions[item] != "head" for item in missing) or not self.violation_labels:
                obs = Observation.VIOLATION  # nothing else could show the item is absent
            else:
                obs = Observation.UNCLEAR  # a hat not found, but no bare head seen either
            if self.attributes:
                tid = int(tracks.track_id[rows[k]])
                by_attr = self._by_attributes(scene.attributes.get(tid, {}))
                obs = by_attr if not self._items else combine(obs, by_attr)
            observations.append(obs)
        return rows, observations

    def _head_items(self, heads: npt.NDArray[np.float32], dets: Detections) -> npt.NDArray[np.object_]:
        """What each person's head shows: the label of its hat or bare head, ``""`` for nothing, or
        ``CONTRADICTED``. Each box goes to one head (``associate``); a box left over goes on competing
        for the head it fits best (``rivals``), and among a head's claims the most confident wins —
        unless a claim with the opposite verdict (a hat against a bare head) is within
        ``CONTRADICTION_MARGIN`` of it. Geometry alone would let a weak bare-head box on the face under
        a hat's brim beat the hat, which fits the top of the head less tightly."""
        shows = np.full(len(heads), "", dtype=object)
        mask = np.isin(dets.label, self._head_labels)
        if not mask.any():
            return shows
        boxes, labels, confidence = dets.xyxy[mask], dets.label[mask], dets.confidence[mask]
        owner = associate(heads, boxes, self.min_overlap, one_per_person=True, top_aligned=True)
        claim = np.where(owner >= 0, owner, rivals(heads, boxes, owner, self.min_overlap, top_aligned=True))
        bare = np.isin(labels, self.violation_labels)
        for k in np.unique(claim[claim >= 0]).tolist():
            mine = np.flatnonzero(claim == k)
            top = mine[confidence[mine].argmax()]
            against = mine[bare[mine] != bare[top]]
            if len(against) and confidence[against].max() >= confidence[top] - CONTRADICTION_MARGIN:
                shows[k] = CONTRADICTED  # neither a hat nor a bare head: the frame is unclear
            else:
                shows[k] = str(labels[top])
        return shows

    def _by_attributes(self, decisions: Mapping[str, Decision]) -> Observation:
        """What the track's attributes say: violation if any decided value is not the wanted one,
        compliant if all are decided and wanted, else unknown."""
        verdicts = []
        for name, wanted in self.attributes.items():
            decision = decisions.get(name)
            if decision is None or decision.value is None:
                verdicts.append(Observation.UNKNOWN)
            else:
                verdicts.append(Observation.COMPLIANT if decision.value == wanted else Observation.VIOLATION)
        return combine(*verdicts)

    @staticmethod
    def _visible(
        boxes: npt.NDArray[np.float32],
        heads: npt.NDArray[np.float32],
        everyone: npt.NDArray[np.float32],
        size: tuple[int, int],
    ) -> npt.NDArray[np.bool_]:
        """Whether each person's head region is in view: not cut by the frame's edge, not covered by
        a nearer person's box (nearer: its box ends lower in the image)."""
        width = size[0]
        ok = (heads[:, 1] > EDGE_PX) & (heads[:, 0] > EDGE_PX) & (heads[:, 2] < width - EDGE_PX)
        if len(everyone) > 1:
            covered = coverage_matrix(everyone, heads)  # (everyone, people): share of each head covered
            nearer = everyone[:, 3][:, None] > boxes[:, 3][None, :] + 1.0
            ok &= ~((covered >= OCCLUDED_SHARE) & nearer).any(axis=0)
        return ok

    def evaluate(self, scene: Scene) -> dict[Hashable, Subject]:
        tracks = scene.tracks
        rows, observations = self.observe(scene)
        ts = scene.frame.ts
        mask = np.zeros(len(tracks), bool)
        first_seen: dict[int, float] = {}
        for row, obs in zip(rows.tolist(), observations, strict=True):
            tid = int(tracks.track_id[row])
            votes = self._votes.setdefault(tid, deque())
            votes.append((ts, obs))
            while ts - votes[0][0] > self.evidence_seconds:
                votes.popleft()
            decided = [(t, o) for t, o in votes if o is Observation.COMPLIANT or o is Observation.VIOLATION]
            violations = [t for t, o in decided if o is Observation.VIOLATION]
            in_view = sum(1 for _, o in votes if o is not Observation.UNKNOWN)
            enough = (
                len(decided) >= 2
                and decided[-1][0] - decided[0][0] >= self.min_evidence_seconds - 1e-6
                and len(decided) >= self.seen_share * in_view
            )
            # the vote decides that it is a violation; the latest decided frame, that it still is (a hat
            # back on ends it at once rather than when the window forgets the bare head)
            latest = decided[-1][1] if decided else Observation.UNKNOWN
            if (
                enough
                and latest is Observation.VIOLATION
                and len(violations) >= self.violation_share * len(decided)
            ):
                mask[row] = True
                run = [t for t, o in decided if o is Observation.COMPLIANT]  # the violations since then
                first_seen[tid] = next(t for t in violations if not run or t > run[-1])
        subjects = track_subjects(tracks, mask)
        return {
            k: replace(s, since=first_seen[s.track_id]) for k, s in subjects.items() if s.track_id is not None
        }

    def forget(self, track_ids: tuple[int, ...]) -> None:
        for tid in track_ids:
            self._votes.pop(tid, None)
