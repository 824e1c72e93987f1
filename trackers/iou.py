"""An IoU tracker: optimal (Hungarian) matching of boxes to tracks by overlap, per label.

It keeps no motion model, so it suits cameras whose frame rate is high for the speed of the objects.
Identity rules shared with every tracker here: a track becomes visible to rules (and gets its id) only
after ``min_hits`` detections in a row; ids count up per tracker and are never reused; a confirmed track
unseen for more than ``max_lost_seconds`` (frame time) is removed and reported once in ``removed``.
``min_hits`` counts detections rather than seconds on purpose: it asks for evidence that an object is
real, which is about how many times it was seen, not how long.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from sitewatch.daemon.geometry import iou_matrix
from sitewatch.daemon.types import Detections, Tracks, TrackUpdate


@dataclass(slots=True)
class _Track:
    label: str
    box: np.ndarray
    confidence: float
    hits: int
    last_ts: float
    detection: int
    track_id: int = 0  # 0 until confirmed

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0


class IouTracker:
    def __init__(self, iou_threshold: float = 0.3, min_hits: int = 2, max_lost_seconds: float = 1.0) -> None:
        self.iou_threshold = iou_threshold
        self.min_hits = min_hits
        self.max_lost_seconds = max_lost_seconds
        self._tracks: list[_Track] = []
        self._next_id = 1

    def __len__(self) -> int:
        """Tracks held (tentative and confirmed)."""
        return len(self._tracks)

    def update(
        self, detections: Detections, ts: float, frame_size: tuple[int, int] | None = None
    ) -> TrackUpdate:
        matched_det = np.zeros(len(detections), bool)
        seen: list[_Track] = []
        for label in np.unique(detections.label):
            det_idx = np.flatnonzero(detections.label == label)
            cands = [t for t in self._tracks if t.label == label]
            if not cands:
                continue
            iou = iou_matrix(np.stack([t.box for t in cands]), detections.xyxy[det_idx])
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols, strict=True):
                if iou[r, c] < self.iou_threshold:
                    continue
                d = det_idx[c]
                track = cands[r]
                track.box = detections.xyxy[d].copy()
                track.confidence = float(detections.confidence[d])
                track.hits += 1
                track.last_ts = ts
                track.detection = int(d)
                matched_det[d] = True
                seen.append(track)

        for d in np.flatnonzero(~matched_det):
            track = _Track(
                str(detections.label[d]),
                detections.xyxy[d].copy(),
                float(detections.confidence[d]),
                1,
                ts,
                int(d),
            )
            self._tracks.append(track)
            seen.append(track)

        removed: list[int] = []
        kept: list[_Track] = []
        seen_ids = {id(t) for t in seen}
        for track in self._tracks:
            if id(track) in seen_ids:
                if not track.confirmed and track.hits >= self.min_hits:
                    track.track_id = self._next_id
                    self._next_id += 1
                kept.append(track)
            elif track.confirmed and ts - track.last_ts <= self.max_lost_seconds:
                kept.append(track)
            elif track.confirmed:
                removed.append(track.track_id)
            # a tentative track missed once is dropped: it never reached the rules
        self._tracks = kept

        visible = [t for t in seen if t.confirmed]
        if not visible:
            return TrackUpdate(Tracks.empty(), tuple(removed))
        return TrackUpdate(
            Tracks(
                track_id=np.array([t.track_id for t in visible], np.int64),
                xyxy=np.stack([t.box for t in visible]).astype(np.float32),
                confidence=np.array([t.confidence for t in visible], np.float32),
                label=np.array([t.label for t in visible], dtype=np.str_),
                detection=np.array([t.detection for t in visible], np.int64),
            ),
            tuple(removed),
        )
