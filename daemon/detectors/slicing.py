"""Slicing: detect small objects in wide frames by running the model on overlapping tiles.

A model scales each frame to its input size; on a wide camera with distant workers the heads a PPE rule
judges shrink below what it can tell apart, and raising ``imgsz`` past the size the model learned makes
it see near objects larger than it knows. Tiling (the pattern of supervision's ``InferenceSlicer`` and
SAHI) cuts each frame into ``cols x rows`` tiles that overlap by ``overlap`` of a tile, detects all
tiles of all frames in one batch with the configured backend, and maps the boxes back:

- a box cut by a tile's *inner* edge (a partial view of an object that goes on in the next tile) is
  dropped when another tile, or the full frame, saw a box of the same label containing most of it;
- the remaining boxes of different tiles are merged by class-wise non-maximum suppression (IoU);
- with ``full_frame`` the whole frame is detected too (in the same batch), so objects larger than the
  overlap are found whole.

It costs one inference per tile (plus one for the full frame): ``bench/slicing.py`` measures it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ..geometry import coverage_matrix, iou_matrix
from ..types import Detections, Frame
from .base import Detector

F32 = npt.NDArray[np.float32]

EDGE_PX = 2.0
"""A box within this many pixels of a tile's inner edge is cut by it."""
CONTAINED = 0.5
"""A cut box whose area lies this much inside another view's box of its label is that object, partly."""
NMS_IOU = 0.5


@dataclass(frozen=True)
class Tile:
    x0: int
    y0: int
    x1: int
    y1: int
    inner: tuple[bool, bool, bool, bool]  # which of its left, top, right, bottom edges are inside the frame


def tiles(width: int, height: int, cols: int, rows: int, overlap: float) -> list[Tile]:
    """``cols x rows`` tiles covering the frame, neighbours overlapping by ``overlap`` of a tile."""

    def spans(length: int, n: int) -> list[tuple[int, int]]:
        if n == 1:
            return [(0, length)]
        size = int(np.ceil(length / (n - (n - 1) * overlap)))
        stride = (length - size) / (n - 1)
        return [(round(i * stride), round(i * stride) + size) for i in range(n)]

    out = []
    for y0, y1 in spans(height, rows):
        for x0, x1 in spans(width, cols):
            inner = (x0 > 0, y0 > 0, x1 < width, y1 < height)
            out.append(Tile(x0, y0, min(x1, width), min(y1, height), inner))
    return out


class SlicingDetector(Detector):
    """Wraps any backend: same labels and checks, tiles in, whole-frame detections out."""

    def __init__(self, inner: Detector, cols: int, rows: int, overlap: float, full_frame: bool) -> None:
        self.inner = inner
        self.cols, self.rows, self.overlap, self.full_frame = cols, rows, overlap, full_frame
        self.name = inner.name
        self.labels = inner.labels
        self.unknown_sources = inner.unknown_sources
        self.runtime, self.device = inner.runtime, inner.device

    def input_size(self, frame_size: tuple[int, int]) -> int | None:
        """The long side the whole frame is effectively scaled to: the model's input size for one tile,
        times how many tile widths (or heights) the frame spans."""
        w, h = frame_size
        tile = tiles(w, h, self.cols, self.rows, self.overlap)[0]
        size = self.inner.input_size((tile.x1 - tile.x0, tile.y1 - tile.y0))
        if size is None:
            return None
        return round(size * max(w, h) / max(tile.x1 - tile.x0, tile.y1 - tile.y0))

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        layouts = [
            tiles(f.image.shape[1], f.image.shape[0], self.cols, self.rows, self.overlap) for f in frames
        ]
        crops = [
            replace(f, image=f.image[t.y0 : t.y1, t.x0 : t.x1])
            for f, lay in zip(frames, layouts, strict=True)
            for t in lay
        ]
        found = self.inner.detect(crops)
        # whole frames in a batch of their own: the backend sizes a batch by its largest image
        whole = self.inner.detect(frames) if self.full_frame else [Detections.empty() for _ in frames]
        out, k = [], 0
        for frame_dets, lay in zip(whole, layouts, strict=True):
            parts = found[k : k + len(lay)]
            k += len(lay)
            out.append(merge(frame_dets, parts, lay))
        return out

    def close(self) -> None:
        self.inner.close()


def merge(whole: Detections, parts: Sequence[Detections], layout: Sequence[Tile]) -> Detections:
    """One frame's detections from its tiles (shifted to frame coordinates) and its full-frame pass."""
    boxes = [whole.xyxy]
    scores = [whole.confidence]
    labels = [whole.label]
    source = [np.zeros(len(whole), np.int64)]
    cut = [np.zeros(len(whole), bool)]
    for i, (d, t) in enumerate(zip(parts, layout, strict=True)):
        xyxy = d.xyxy + np.array([t.x0, t.y0, t.x0, t.y0], np.float32)
        left, top, right, bottom = t.inner
        touches = (
            (left & (xyxy[:, 0] <= t.x0 + EDGE_PX))
            | (top & (xyxy[:, 1] <= t.y0 + EDGE_PX))
            | (right & (xyxy[:, 2] >= t.x1 - EDGE_PX))
            | (bottom & (xyxy[:, 3] >= t.y1 - EDGE_PX))
        )
        boxes.append(xyxy)
        scores.append(d.confidence)
        labels.append(d.label)
        source.append(np.full(len(d), i + 1, np.int64))
        cut.append(touches)
    xyxy = np.concatenate(boxes).astype(np.float32)
    conf = np.concatenate(scores).astype(np.float32)
    label = np.concatenate(labels) if any(len(b) for b in labels) else np.zeros(0, dtype="<U1")
    src, partial = np.concatenate(source), np.concatenate(cut)
    keep = np.ones(len(xyxy), bool)
    for j in np.flatnonzero(partial):  # a partial view another view saw more of
        others = (src != src[j]) & (label == label[j]) & ~partial
        if others.any() and (coverage_matrix(xyxy[others], xyxy[j : j + 1]) >= CONTAINED).any():
            keep[j] = False
    idx = np.flatnonzero(keep)
    kept = idx[_nms(xyxy[idx], conf[idx], label[idx])]
    kept.sort()
    return Detections(xyxy[kept], conf[kept], label[kept])


def _nms(xyxy: F32, conf: F32, label: npt.NDArray[np.str_]) -> npt.NDArray[np.int64]:
    """Greedy class-wise NMS, highest score first; returns the indices kept."""
    order = np.argsort(-conf, kind="stable")
    iou = iou_matrix(xyxy, xyxy) if len(xyxy) else np.zeros((0, 0))
    same = label[:, None] == label[None, :]
    suppressed = np.zeros(len(xyxy), bool)
    kept = []
    for i in order:
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed |= same[i] & (iou[i] > NMS_IOU)
    return np.array(kept, np.int64)
