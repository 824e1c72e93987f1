"""Draws a snapshot with OpenCV: every track thin with its id, zones outlined, the subject thick and
red, and a caption bar. (Not Ultralytics' plotting, which fetches a font at run time.)"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from sitewatch.daemon.events import SnapshotRequest

RED = (0, 0, 255)
GREEN = (80, 200, 80)
ZONE = (0, 200, 255)
WHITE = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def annotate(req: SnapshotRequest) -> npt.NDArray[np.uint8]:
    """A copy of the frame with the overlay drawn; the frame itself is left untouched."""
    img = req.image.copy()
    h, w = img.shape[:2]
    scale = max(0.4, min(w, h) / 1000)
    thick = max(1, round(2 * scale))
    for name, poly in req.zones.items():
        pts = np.round(poly).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], isClosed=True, color=ZONE, thickness=thick)
        x, y = pts[0, 0]
        cv2.putText(img, name, (int(x) + 4, int(y) + int(20 * scale)), FONT, 0.6 * scale, ZONE, thick)
    for name, line in req.lines.items():
        (ax, ay), (bx, by) = (tuple(round(float(v)) for v in p) for p in line)
        cv2.arrowedLine(img, (ax, ay), (bx, by), ZONE, thick, tipLength=0.03)
        cv2.putText(img, name, (ax + 4, ay - 6), FONT, 0.6 * scale, ZONE, thick)
    for tid, box, label in zip(req.tracks.track_id, req.tracks.xyxy, req.tracks.label, strict=True):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(img, (x1, y1), (x2, y2), GREEN, thick)
        cv2.putText(img, f"{label} #{int(tid)}", (x1, max(12, y1 - 4)), FONT, 0.5 * scale, GREEN, thick)
    if req.subject_xyxy is not None:
        x1, y1, x2, y2 = (round(v) for v in req.subject_xyxy)
        cv2.rectangle(img, (x1, y1), (x2, y2), RED, thick * 3)
    bar = int(28 * scale) + 6
    cv2.rectangle(img, (0, 0), (w, bar), (0, 0, 0), -1)
    cv2.putText(img, req.caption, (6, bar - 8), FONT, 0.6 * scale, WHITE, thick)
    return img


def encode_jpeg(req: SnapshotRequest, quality: int = 90) -> bytes:
    """The annotated snapshot as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", annotate(req), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())
