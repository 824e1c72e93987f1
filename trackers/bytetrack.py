"""ByteTrack (Zhang et al., 2022), vectorised, class-aware and time-based.

Each update:

1. predict every confirmed track (tracked or lost) to the frame time with a Kalman filter;
2. match them to the high-score detections (IoU fused with the score, gated at ``match_thresh``);
3. match the tracks still unmatched to the *low*-score detections (IoU gated at 0.5): an object half
   hidden behind another keeps its track instead of being lost;
4. match tentative tracks (seen once) to the remaining high-score detections; a match confirms them;
   tentative tracks not matched are dropped;
5. start tentative tracks on remaining detections scoring at least ``new_track_thresh``;
6. remove lost tracks unseen for more than ``lost_seconds``, or predicted to have walked more than
   half out of the picture (when the frame size is given): a person entering where another just left
   must not inherit the leaver's id.

What differs from the reference implementation (and Ultralytics' ``BYTETracker``), on purpose (each
measured on the crossing scenes in ``tests/test_bytetrack.py``; agreement with the reference on scenes
without crossings stays above 99 %):

- **Lost tracks take low-score detections too** (stage 3). The reference offers them only to tracks
  still tracked, so when two people cross and the one behind reappears with a low score, the track of
  the one in front (missed for a frame) takes it: a swap. Offered to all, it goes to the best match.
- **Width and height are filtered** (``kalman.KalmanXYWH``) instead of aspect ratio and height, whose
  filter keeps the narrow box of a person who entered at the frame edge for seconds.
- **Class-aware**: a track only ever matches detections of its own label.
- **Time-based**: velocities are per second, the lost buffer is in seconds, and the prediction covers
  the real time between frames, so 5 fps, 30 fps and capped or dropped frames behave the same.
- **Buffered IoU at low frame rates**: when frames are ``dt`` seconds apart, boxes are compared after
  enlarging them by ``min(0.5, 2 * (dt - ref_interval))`` of their size on each side (as in C-BIoU). At
  30 fps there is no buffer, exactly as the reference; at 5 fps a person who walked most of a body
  width since the last frame still overlaps their track, where plain IoU would find no overlap and
  start a new identity. (Measured: a buffer that grows with a lost track's own gap instead makes lost
  tracks grab passers-by after an occlusion, so the gap is bridged by the motion model alone.)
- **Tentative tracks are predicted too**: the reference skips them, so the update that confirms a
  track has no position-velocity correlation to work with and the new track starts at rest; at low
  frame rates it then falls behind and a crossing neighbour's track takes its detections. Predicting
  a track at rest does not move its box, so which detections confirm which tracks is unchanged.
- **Ids on confirmation**: a public id is given when a track is confirmed (tentative tracks that die
  consume none); ids count up per tracker and are never reused. As in the reference, everyone in a
  stream's first frame is confirmed at once (there is nothing to confirm them against).
- **Measured boxes out**: reported boxes are the detections that continued the tracks; the Kalman state
  is used for association only.
- **No duplicate pruning**: the reference deletes the younger of a tracked and a lost track that
  overlap above 0.85 IoU, meant for one object tracked twice. Where two people cross it deletes the
  track of the one in front while the other is hidden, and both come out with swapped or new ids. A
  stale lost track here simply expires after ``lost_seconds``.
- **Bounded**: removed tracks are dropped at once (the reference keeps up to 1,000).

All state lives in a few numpy arrays, one row per live track.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sitewatch.daemon.assignment import gated_assignment
from sitewatch.daemon.types import Detections, Tracks, TrackUpdate

from .kalman import KalmanXYWH, xywh_to_xyxy, xyxy_to_xywh

TRACKED, LOST = 0, 1
_EPS = 1e-6
_BLOCKED = 1e6  # cost of a pair whose labels differ: never under any gate
EDGE_MARGIN = 0.01
"""A box within this share of the frame (plus a pixel) of an edge touches it."""
EXIT_SPEED = 0.1
"""Moving out through an edge: faster than this share of the box's size per second."""
EXIT_SHARE = 0.5
"""Mostly gone through an edge: the box is cut to under this share of its full width (or height)."""


class ByteTracker:
    def __init__(
        self,
        *,
        high_thresh: float = 0.5,
        low_thresh: float = 0.1,
        new_track_thresh: float = 0.6,
        match_thresh: float = 0.8,
        lost_seconds: float = 2.0,
        fuse_score: bool = True,
        ref_interval: float = 1 / 30,
    ) -> None:
        self.high_thresh = high_thresh
        self.low_thresh = low_thresh
        self.new_track_thresh = new_track_thresh
        self.match_thresh = match_thresh
        self.lost_seconds = lost_seconds
        self.fuse_score = fuse_score
        self.kf = KalmanXYWH(ref_interval)
        self._next_id = 1
        self._ts: float | None = None
        self._buffer = 0.0
        n = 0
        self.mean = np.zeros((n, 8))
        self.cov = np.zeros((n, 8, 8))
        self.label = np.zeros(n, dtype="<U1")
        self.state = np.zeros(n, np.int8)
        self.track_id = np.zeros(n, np.int64)  # 0 while tentative
        self.start_ts = np.zeros(n)
        self.last_ts = np.zeros(n)
        self.full_size = np.zeros((n, 2))  # largest measured width and height: the box uncut by an edge

    def __len__(self) -> int:
        """Live tracks held: tentative, tracked and lost."""
        return len(self.mean)

    # --- the update --------------------------------------------------------------------------------

    def update(
        self, detections: Detections, ts: float, frame_size: tuple[int, int] | None = None
    ) -> TrackUpdate:
        first = self._ts is None
        dt = 0.0 if self._ts is None else ts - self._ts
        self._ts = ts
        self._buffer = min(0.5, max(0.0, 2.0 * (dt - self.kf.ref)))
        boxes, score = detections.xyxy, detections.confidence
        wh = boxes[:, 2:4] - boxes[:, 0:2]
        valid = (wh[:, 0] > 0) & (wh[:, 1] > 0)
        high = np.flatnonzero(valid & (score >= self.high_thresh))
        low = np.flatnonzero(valid & (score > self.low_thresh) & (score < self.high_thresh))

        confirmed = self.track_id > 0
        pool = np.flatnonzero(confirmed)
        tentative = np.flatnonzero(~confirmed)
        if len(self) and dt > 0:
            mean = self.mean.copy()
            mean[self.state != TRACKED, 6:8] = 0.0  # a lost box keeps its size
            self.mean, self.cov = self.kf.predict(mean, self.cov, dt)

        # 1. confirmed tracks ↔ high-score detections
        r1, c1, ut1, ud1 = gated_assignment(
            self._cost(pool, high, detections, self.fuse_score), self.match_thresh
        )
        # 2. confirmed, still-tracked tracks ↔ low-score detections
        rest = pool[ut1]
        r2, c2, ut2, _ = gated_assignment(self._cost(rest, low, detections, False), 0.5)
        # 3. tentative tracks ↔ the high-score detections left over
        left = high[ud1]
        r3, c3, ut3, ud3 = gated_assignment(self._cost(tentative, left, detections, self.fuse_score), 0.7)

        matched_tracks = np.concatenate([pool[r1], rest[r2], tentative[r3]])
        matched_dets = np.concatenate([high[c1], low[c2], left[c3]])
        if len(matched_tracks):
            self.mean[matched_tracks], self.cov[matched_tracks] = self.kf.update(
                self.mean[matched_tracks], self.cov[matched_tracks], xyxy_to_xywh(boxes[matched_dets])
            )
            self.state[matched_tracks] = TRACKED
            self.last_ts[matched_tracks] = ts
            measured = (boxes[matched_dets, 2:4] - boxes[matched_dets, 0:2]).astype(np.float64)
            self.full_size[matched_tracks] = np.maximum(self.full_size[matched_tracks], measured)
            new_confirmed = matched_tracks[self.track_id[matched_tracks] == 0]
            self.track_id[new_confirmed] = np.arange(self._next_id, self._next_id + len(new_confirmed))
            self._next_id += len(new_confirmed)
        self.state[rest[ut2]] = LOST  # (already lost ones stay lost)

        keep = np.ones(len(self), bool)
        keep[tentative[ut3]] = False  # seen once, not again: never reached the rules
        keep &= ~((self.state == LOST) & (ts - self.last_ts > self.lost_seconds + _EPS))
        if frame_size is not None:
            lost = self.state == LOST
            keep &= ~(lost & ((self._visible_share(frame_size) < 0.5) | self._leaving(frame_size)))
        new = left[ud3]
        new = new[score[new] >= self.new_track_thresh]
        self._start(new, detections, ts)
        keep = np.concatenate([keep, np.ones(len(new), bool)])
        removed = tuple(int(i) for i in self.track_id[~keep & (self.track_id > 0)])
        if first and len(new):
            # The stream's first frame has no history to confirm against: everyone in it is confirmed at
            # once, as ByteTrack does, instead of being missed for a frame (a false positive among them
            # ends as soon as it is not seen again, before any rule's min_duration).
            started = np.arange(len(self) - len(new), len(self))
            self.track_id[started] = np.arange(self._next_id, self._next_id + len(new))
            self._next_id += len(new)
            matched_tracks = np.concatenate([matched_tracks, started])
            matched_dets = np.concatenate([matched_dets, new])

        shown = keep[matched_tracks]
        out = self._report(matched_tracks[shown], matched_dets[shown], detections)
        self._compact(keep)
        return TrackUpdate(out, removed)

    # --- helpers -----------------------------------------------------------------------------------

    def _cost(
        self, tracks: npt.NDArray[np.int64], dets: npt.NDArray[np.int64], detections: Detections, fuse: bool
    ) -> npt.NDArray[np.float64]:
        """``1 - IoU`` (or ``1 - IoU * score``) between predicted track boxes and detections; pairs of
        different labels are blocked."""
        if len(tracks) == 0 or len(dets) == 0:
            return np.zeros((len(tracks), len(dets)))
        buffer = np.full(len(tracks), self._buffer)
        sim = buffered_iou(xywh_to_xyxy(self.mean[tracks, :4]), detections.xyxy[dets], buffer)
        if fuse:
            sim *= detections.confidence[dets][None, :]
        cost = 1.0 - sim
        cost[self.label[tracks][:, None] != detections.label[dets][None, :]] = _BLOCKED
        return cost

    def _visible_share(self, frame_size: tuple[int, int]) -> npt.NDArray[np.float64]:
        """Share of each track's predicted box inside the frame."""
        boxes = xywh_to_xyxy(self.mean[:, :4]).astype(np.float64)
        w, h = frame_size
        clipped = np.clip(boxes, 0, [w, h, w, h])
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        return np.divide(inside, area, out=np.zeros_like(area), where=area > 0)

    def _leaving(self, frame_size: tuple[int, int]) -> npt.NDArray[np.bool_]:
        """Tracks mostly gone through the left, right or top edge: their predicted box touches it, is
        cut to under half its full size, and moves out.

        Detectors clip boxes to the frame, so a worker walking out shrinks against the edge and the
        predicted box of their lost track stays in view for a few frames: without this, a worker
        entering at the same spot in those frames would inherit the leaver's identity (and its open
        alert). A worker still mostly in view who is missed for a frame keeps theirs. The bottom edge
        is left out: people near the camera are cut by it all the time, and walking towards the camera
        is not leaving.
        """
        boxes = xywh_to_xyxy(self.mean[:, :4]).astype(np.float64)
        vx, vy = self.mean[:, 4], self.mean[:, 5]
        full = np.maximum(self.full_size, 1.0)
        cut = self.mean[:, 2:4] < EXIT_SHARE * full  # (w, h) under half of the uncut box
        min_speed = EXIT_SPEED * full  # px/s, relative to the box's own size
        w, h = frame_size
        mx, my = EDGE_MARGIN * w + 1.0, EDGE_MARGIN * h + 1.0
        left = (boxes[:, 0] <= mx) & (vx < -min_speed[:, 0]) & cut[:, 0]
        right = (boxes[:, 2] >= w - mx) & (vx > min_speed[:, 0]) & cut[:, 0]
        top = (boxes[:, 1] <= my) & (vy < -min_speed[:, 1]) & cut[:, 1]
        return np.asarray(left | right | top)

    def _report(
        self, tracks: npt.NDArray[np.int64], dets: npt.NDArray[np.int64], detections: Detections
    ) -> Tracks:
        shown = self.track_id[tracks] > 0
        tracks, dets = tracks[shown], dets[shown]
        order = np.argsort(self.track_id[tracks], kind="stable")
        tracks, dets = tracks[order], dets[order]
        return Tracks(
            track_id=self.track_id[tracks].copy(),
            xyxy=detections.xyxy[dets],
            confidence=detections.confidence[dets],
            label=detections.label[dets],
            detection=dets.astype(np.int64),
        )

    def _compact(self, keep: npt.NDArray[np.bool_]) -> None:
        if keep.all():
            return
        self.mean, self.cov, self.label = self.mean[keep], self.cov[keep], self.label[keep]
        self.state, self.track_id = self.state[keep], self.track_id[keep]
        self.start_ts, self.last_ts = self.start_ts[keep], self.last_ts[keep]
        self.full_size = self.full_size[keep]

    def _start(self, dets: npt.NDArray[np.int64], detections: Detections, ts: float) -> None:
        if len(dets) == 0:
            return
        mean, cov = self.kf.initiate(xyxy_to_xywh(detections.xyxy[dets]))
        n = len(dets)
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.label = np.concatenate([self.label, detections.label[dets]])
        self.state = np.concatenate([self.state, np.full(n, TRACKED, np.int8)])
        self.track_id = np.concatenate([self.track_id, np.zeros(n, np.int64)])
        self.start_ts = np.concatenate([self.start_ts, np.full(n, ts)])
        self.last_ts = np.concatenate([self.last_ts, np.full(n, ts)])
        self.full_size = np.concatenate([self.full_size, self.mean[-n:, 2:4]])


def buffered_iou(
    tracks: npt.NDArray[np.float32], dets: npt.NDArray[np.float32], buffer: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``(N, M)`` IoU after enlarging track ``i`` and every detection by ``buffer[i]`` times their own
    width and height on each side. With a zero buffer this is plain IoU."""
    t = tracks.astype(np.float64)
    d = np.broadcast_to(dets.astype(np.float64)[None], (len(t), len(dets), 4))
    b = buffer[:, None]
    tw, th = (t[:, 2] - t[:, 0])[:, None] * b, (t[:, 3] - t[:, 1])[:, None] * b
    t = np.stack([t[:, 0:1] - tw, t[:, 1:2] - th, t[:, 2:3] + tw, t[:, 3:4] + th], axis=-1)  # (N, 1, 4)
    dw, dh = (d[..., 2] - d[..., 0]) * b, (d[..., 3] - d[..., 1]) * b
    d = np.stack([d[..., 0] - dw, d[..., 1] - dh, d[..., 2] + dw, d[..., 3] + dh], axis=-1)  # (N, M, 4)
    iw = np.clip(np.minimum(t[..., 2], d[..., 2]) - np.maximum(t[..., 0], d[..., 0]), 0, None)
    ih = np.clip(np.minimum(t[..., 3], d[..., 3]) - np.maximum(t[..., 1], d[..., 1]), 0, None)
    inter = iw * ih
    area_t = (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])
    area_d = (d[..., 2] - d[..., 0]) * (d[..., 3] - d[..., 1])
    union = area_t + area_d - inter
    return np.asarray(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), np.float64)
