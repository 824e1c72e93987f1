"""Detection recall and precision per class against the synthetic generator's exact labels (IoU 0.5,
each truth box matched at most once, best overlaps first): the bench, the demo model's tests and its
card read models by these numbers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from synthsite import CLASSES, Box

from sitewatch.daemon.geometry import iou_matrix
from sitewatch.daemon.types import Detections

Labels = list[tuple[int, int, Box]]


def recall_precision(
    found: Sequence[Detections], truth: Sequence[Labels], iou: float = 0.5
) -> dict[str, tuple[float, float]]:
    """``{class: (recall, precision)}`` over all images; a class never present (or never found) counts
    as 1.0 on that side."""
    out = {}
    for cls, name in enumerate(CLASSES):
        tp = n_true = n_found = 0
        for dets, labels in zip(found, truth, strict=True):
            t = np.array([b for c, _, b in labels if c == cls], np.float32).reshape(-1, 4)
            d = dets.xyxy[dets.label == name]
            n_true, n_found = n_true + len(t), n_found + len(d)
            if len(t) and len(d):
                overlap = iou_matrix(t, d)
                while overlap.size and overlap.max() >= iou:
                    i, j = np.unravel_index(int(overlap.argmax()), overlap.shape)
                    tp += 1
                    overlap[i, :], overlap[:, j] = 0, 0
        out[name] = (tp / n_true if n_true else 1.0, tp / n_found if n_found else 1.0)
    return out
