"""Synthetic multi-object scenes with exact ground truth, for tracker tests and benchmarks.

People-sized boxes walk into a 1280x720 frame from either side and out of the other, so paths of
people walking in opposite directions cross (people walking the same way keep apart: two boxes moving
together on top of each other cannot be told apart by motion alone, only by appearance); they hide
behind each other (the one further back scores low while partly covered and vanishes while mostly
covered), disappear for a second behind a pillar, are missed at random, jitter, and are joined by
one-frame false positives. Motion is defined in seconds, then sampled at any frame rate, so the same
scene can be tracked at 5 and at 30 fps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sitewatch.daemon.geometry import iou_matrix
from sitewatch.daemon.types import Detections

WIDTH, HEIGHT = 1280, 720


@dataclass(frozen=True)
class SceneFrame:
    ts: float
    gt_ids: np.ndarray  # (G,) ids of the objects in view
    gt_boxes: np.ndarray  # (G, 4) true boxes
    detections: Detections  # what the detector reports
    det_gt: np.ndarray  # (D,) ground-truth id behind each detection, -1 for false positives


@dataclass(frozen=True)
class _Object:
    oid: int
    t0: float
    t1: float
    x0: float
    y0: float
    vx: float
    vy: float
    w: float
    h: float
    hidden: tuple[float, float]  # a 1-s stretch behind a pillar


def _box(o: _Object, ts: float) -> np.ndarray:
    x, y = o.x0 + o.vx * (ts - o.t0), o.y0 + o.vy * (ts - o.t0)
    return np.array([[x, y, x + o.w, y + o.h]], np.float32)


def _apart(a: _Object, b: _Object) -> bool:
    """Never overlapping while both are in view (checked every 0.1 s)."""
    t0, t1 = max(a.t0, b.t0), min(a.t1, b.t1)
    return all(iou_matrix(_box(a, t), _box(b, t))[0, 0] == 0 for t in np.arange(t0, t1, 0.1))


def _objects(rng: np.random.Generator, n: int, duration: float, one_way: bool) -> list[_Object]:
    out: list[_Object] = []
    oid = 1
    while len(out) < n:
        t0 = rng.uniform(0, duration * 0.6)
        leftwards = oid % 2 == 0 and not one_way
        speed = rng.uniform(60, 140) * (-1 if leftwards else 1)
        w, h = rng.uniform(40, 70), rng.uniform(110, 170)
        x0 = float(WIDTH) if leftwards else -w
        t1 = t0 + (WIDTH + w) / abs(speed)  # until it has walked out of the other side
        y0 = rng.uniform(200, HEIGHT - h - 20)
        hide = rng.uniform(t0 + 1.5, max(t0 + 1.6, t1 - 2.5))
        obj = _Object(oid, t0, t1, x0, y0, speed, rng.uniform(-8, 8), w, h, (hide, hide + 1.0))
        if all(_apart(obj, o) for o in out if (o.vx < 0) == (obj.vx < 0)):
            out.append(obj)
            oid += 1
    return out


def make_scene(
    seed: int = 0,
    fps: float = 30,
    duration: float = 30.0,
    n_objects: int = 14,
    miss_rate: float = 0.1,
    jitter: float = 2.0,
    false_positive_rate: float = 0.1,
    label: str = "person",
    one_way: bool = False,
) -> list[SceneFrame]:
    """``one_way``: everyone walks left to right, so nobody's path crosses anybody else's."""
    rng = np.random.default_rng(seed)
    objects = _objects(rng, n_objects, duration, one_way)
    noise = np.random.default_rng(seed + 1000)  # same scene, independent per-frame noise
    frames = []
    for k in range(int(duration * fps)):
        ts = k / fps
        live = [o for o in objects if o.t0 <= ts < o.t1]
        ids = np.array([o.oid for o in live], np.int64)
        boxes = np.array(
            [[o.x0 + o.vx * (ts - o.t0), o.y0 + o.vy * (ts - o.t0)] for o in live], np.float32
        ).reshape(-1, 2)
        sizes = np.array([[o.w, o.h] for o in live], np.float32).reshape(-1, 2)
        gt = np.concatenate([boxes, boxes + sizes], axis=1)
        gt[:, 0::2] = np.clip(gt[:, 0::2], 0, WIDTH)  # boxes are cut at the frame edge, as annotated
        inside = gt[:, 2] - gt[:, 0] >= 8  # at least a sliver in view
        ids, gt, live = ids[inside], gt[inside], [o for o, i in zip(live, inside, strict=True) if i]

        # occlusion: the object further back (smaller bottom y) is covered by the one in front
        cover = iou_matrix(gt, gt)
        np.fill_diagonal(cover, 0)
        behind = gt[:, 3][:, None] < gt[:, 3][None, :]
        covered = (cover * behind).max(axis=1) if len(gt) else np.zeros(0)
        score = noise.uniform(0.6, 0.95, len(gt)).astype(np.float32)
        score[covered > 0.3] = noise.uniform(0.2, 0.45, int((covered > 0.3).sum()))
        seen = covered <= 0.6
        seen &= noise.random(len(gt)) >= miss_rate
        seen &= np.array([not (o.hidden[0] <= ts < o.hidden[1]) for o in live], bool)

        det = gt[seen] + noise.normal(0, jitter, (int(seen.sum()), 4)).astype(np.float32)
        det_gt = ids[seen]
        det_score = score[seen]
        if noise.random() < false_positive_rate:
            x, y = noise.uniform(0, WIDTH - 60), noise.uniform(0, HEIGHT - 150)
            det = np.concatenate([det, np.array([[x, y, x + 50, y + 140]], np.float32)])
            det_gt = np.concatenate([det_gt, [-1]])
            det_score = np.concatenate([det_score, noise.uniform(0.3, 0.7, 1).astype(np.float32)])
        order = noise.permutation(len(det))  # detectors report in no particular order
        frames.append(
            SceneFrame(
                ts,
                ids,
                gt,
                Detections(det[order].astype(np.float32), det_score[order], np.full(len(det), label)),
                det_gt[order],
            )
        )
    return frames


def load_motmetrics():  # type: ignore[no-untyped-def]
    """motmetrics 1.4 calls ``np.asfarray``, which NumPy 2 removed; alias it before importing."""
    if not hasattr(np, "asfarray"):
        np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)  # type: ignore[attr-defined]
    import motmetrics

    return motmetrics


class UltralyticsBoxes:
    """The slice of Ultralytics' ``Boxes`` interface its ``BYTETracker`` reads, over plain arrays, so the
    reference tracker can be fed exactly the detections ours gets."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray) -> None:
        self.xyxy, self.conf, self.cls = xyxy, conf, np.zeros(len(conf))
        wh = xyxy[:, 2:] - xyxy[:, :2]
        self.xywh = np.concatenate([xyxy[:, :2] + wh / 2, wh], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: np.ndarray) -> UltralyticsBoxes:
        return UltralyticsBoxes(self.xyxy[mask], self.conf[mask])
