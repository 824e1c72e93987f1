"""Turning an exported YOLO model's raw output into boxes, as ``YOLO.predict`` does, without torch.

Two output layouts exist:

* YOLOv8 / YOLO11 heads: ``(N, 4 + classes, anchors)`` — centre, size and one score per class for every
  anchor. Kept: anchors whose best class scores above the threshold; then class-wise non-maximum
  suppression at IoU 0.7 and at most 300 boxes, Ultralytics' predict defaults.
* NMS-free heads (YOLO26, YOLOv10; Ultralytics calls them ``end2end``): ``(N, max_det, 6)`` —
  ``x1, y1, x2, y2, score, class`` already suppressed; only the threshold applies.

Vectorised per image with numpy; NMS is OpenCV's batched (class-offset) NMS in C++. ``decode_torch`` does
the same on a torch output where it lies (on a GPU: there), so only the kept boxes are copied back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

NMS_IOU = 0.7
MAX_DET = 300


@dataclass(frozen=True, slots=True)
class RawBoxes:
    """One image's boxes in model-input pixels."""

    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int64]


def decode(output: npt.NDArray[np.float32], conf: float, end2end: bool) -> list[RawBoxes]:
    """Boxes for every image of a batch output (see the module docstring for the layouts)."""
    if end2end:
        return [_end2end(o, conf) for o in output]
    return [_anchors(o, conf) for o in output]


def _end2end(rows: npt.NDArray[np.float32], conf: float) -> RawBoxes:
    keep = rows[:, 4] > conf
    kept = rows[keep]
    return RawBoxes(
        np.ascontiguousarray(kept[:, :4], np.float32),
        np.ascontiguousarray(kept[:, 4], np.float32),
        kept[:, 5].astype(np.int64),
    )


def _anchors(pred: npt.NDArray[np.float32], conf: float) -> RawBoxes:
    scores = pred[4:]
    best = scores.max(axis=0)
    idx = np.flatnonzero(best > conf)
    if idx.size == 0:
        return RawBoxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    confidence = best[idx].astype(np.float32)
    class_id = scores[:, idx].argmax(axis=0).astype(np.int64)
    cx, cy, w, h = pred[0, idx], pred[1, idx], pred[2, idx], pred[3, idx]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    if idx.size > 1:
        xywh = np.stack([xyxy[:, 0], xyxy[:, 1], w, h], axis=1).astype(np.float32)
        kept = cv2.dnn.NMSBoxesBatched(xywh, confidence, class_id.astype(np.int32), conf, NMS_IOU)  # type: ignore[arg-type]  # stubs want lists; arrays work
        order = np.asarray(kept, np.int64).reshape(-1)
        order = order[np.argsort(-confidence[order], kind="stable")][:MAX_DET]
        xyxy, confidence, class_id = xyxy[order], confidence[order], class_id[order]
    return RawBoxes(xyxy, confidence, class_id)


def decode_torch(output: Any, conf: float, end2end: bool) -> list[RawBoxes]:
    """``decode`` for a torch tensor output, on its device (torchvision's batched NMS)."""
    import torch
    from torchvision.ops import batched_nms

    out = []
    for pred in output:
        if end2end:
            kept = pred[pred[:, 4] > conf].float().cpu().numpy()
            out.append(_end2end(kept, conf))
            continue
        best, class_id = pred[4:].max(dim=0)
        idx = torch.nonzero(best > conf).squeeze(1)
        cx, cy, w, h = pred[:4, idx].float()
        xyxy = torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=1)
        scores, classes = best[idx].float(), class_id[idx]
        keep = batched_nms(xyxy, scores, classes, NMS_IOU)[:MAX_DET]  # sorted by score
        out.append(
            RawBoxes(
                xyxy[keep].cpu().numpy().astype(np.float32),
                scores[keep].cpu().numpy().astype(np.float32),
                classes[keep].cpu().numpy().astype(np.int64),
            )
        )
    return out
