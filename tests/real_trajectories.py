"""Real pedestrian trajectories for tracker tests: the TUD-Campus and TUD-Stadtmitte ground truth that
ships with motmetrics (25 fps, 640x480), turned into detector output the way a detector errs — 10 %
missed, 2 px jitter, a third of the boxes with low scores, a false positive in one frame in ten — and
scored with CLEAR-MOT and IDF1 against the truth, beside Ultralytics' BYTETracker with its own defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from synthetic_tracks import UltralyticsBoxes, load_motmetrics

from sitewatch.daemon.geometry import iou_matrix
from sitewatch.daemon.types import Detections
from sitewatch.trackers import ByteTracker

SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
SOURCE_FPS = 25
SIZE = (640, 480)
Track = Callable[[Detections, float], tuple[list[int], np.ndarray]]


def ground_truth(name: str) -> dict[int, list[tuple[int, float, float, float, float]]]:
    import motmetrics

    rows = np.loadtxt(
        os.path.join(os.path.dirname(motmetrics.__file__), "data", name, "gt.txt"), delimiter=","
    )
    frames: dict[int, list[tuple[int, float, float, float, float]]] = {}
    for f, i, x, y, w, h in rows[:, :6]:
        frames.setdefault(int(f), []).append((int(i), x, y, x + w, y + h))
    return frames


def detector_output(
    gt: dict[int, list[tuple[int, float, float, float, float]]], seed: int
) -> list[tuple[int, Detections]]:
    rng = np.random.default_rng(seed)
    out = []
    for f in sorted(gt):
        boxes, scores = [], []
        for _, *box in gt[f]:
            if rng.random() < 0.1:
                continue
            boxes.append(np.array(box) + rng.normal(0, 2.0, 4))
            scores.append(rng.uniform(0.3, 0.95) if rng.random() < 0.3 else rng.uniform(0.6, 0.98))
        if rng.random() < 0.1:
            x, y = rng.uniform(0, SIZE[0] - 60), rng.uniform(0, SIZE[1] - 150)
            boxes.append(np.array([x, y, x + 50, y + 140]))
            scores.append(rng.uniform(0.3, 0.7))
        xyxy = np.array(boxes, np.float32).reshape(-1, 4)
        out.append((f, Detections(xyxy, np.array(scores, np.float32), np.full(len(xyxy), "person"))))
    return out


def ours() -> Track:
    tracker = ByteTracker()

    def track(d: Detections, ts: float) -> tuple[list[int], np.ndarray]:
        u = tracker.update(d, ts, SIZE)
        return u.tracks.track_id.tolist(), u.tracks.xyxy

    return track


def reference(fps: float) -> Track:
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import IterableSimpleNamespace

    tracker = BYTETracker(
        IterableSimpleNamespace(
            track_high_thresh=0.25,
            track_low_thresh=0.1,
            new_track_thresh=0.25,
            track_buffer=round(30 * fps / 30),
            match_thresh=0.8,
            fuse_score=True,
        )
    )  # fmt: skip  (bytetrack.yaml's defaults; its buffer is frames, about 1 s at 30 fps)

    def track(d: Detections, ts: float) -> tuple[list[int], np.ndarray]:
        rows = tracker.update(UltralyticsBoxes(d.xyxy, d.confidence))
        return [int(r[4]) for r in rows], np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)

    return track


def score(make: Callable[[float], Track], fps: float, seeds: range = range(5)) -> dict[str, float]:
    """IDF1 and MOTA over both sequences and every seed, at ``fps`` (frames dropped evenly)."""
    mm = load_motmetrics()
    accs = []
    step = round(SOURCE_FPS / fps)
    for name in SEQUENCES:
        gt = ground_truth(name)
        for seed in seeds:
            track = make(fps)
            acc = mm.MOTAccumulator(auto_id=True)
            for f, dets in detector_output(gt, seed)[::step]:
                ids, boxes = track(dets, f / SOURCE_FPS)
                truth = np.array([b[1:] for b in gt[f]], np.float32).reshape(-1, 4)
                dist = (
                    1 - iou_matrix(truth, boxes)
                    if len(truth) and len(boxes)
                    else np.zeros((len(truth), len(boxes)))
                )
                dist[dist > 0.5] = np.nan
                acc.update([b[0] for b in gt[f]], ids, dist)
            accs.append(acc)
    summary = mm.metrics.create().compute_many(accs, metrics=["idf1", "mota"], generate_overall=True)
    return {k: float(v) for k, v in summary.loc["OVERALL"].items()}
