"""Vectorised box and polygon geometry shared by the trackers, the rules and the snapshot drawing.

Boxes are ``(N, 4)`` arrays of ``x1, y1, x2, y2``; polygons are ``(K, 2)`` arrays of vertices; all in the
same units (pixels in the pipeline).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
Anchor = Literal["bottom_center", "center", "top_center"]


def intersection_areas(a: FloatArray, b: FloatArray) -> npt.NDArray[np.float32]:
    """``(N, M)`` areas of the intersections of every box of ``a`` with every box of ``b``."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.asarray(np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None), np.float32)


def box_areas(boxes: FloatArray) -> npt.NDArray[np.float32]:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.asarray(
        np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None), np.float32
    )


def iou_matrix(a: FloatArray, b: FloatArray) -> npt.NDArray[np.float32]:
    """``(N, M)`` intersection-over-union; 0 where a union is empty."""
    inter = intersection_areas(a, b)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    return np.asarray(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), np.float32)


def coverage_matrix(regions: FloatArray, items: FloatArray) -> npt.NDArray[np.float32]:
    """``(N, M)`` share of each item's area that lies inside each region (intersection over item area).

    This, not IoU, says whether a small box (a hard hat) sits inside a larger one (a head region).
    """
    inter = intersection_areas(regions, items)
    area = box_areas(items)[None, :]
    return np.asarray(np.divide(inter, area, out=np.zeros_like(inter), where=area > 0), np.float32)


def overlap_of_smaller(a: FloatArray, b: FloatArray) -> npt.NDArray[np.float32]:
    """``(N, M)`` intersection over the smaller of the two areas: 1 when one box lies inside the other,
    whatever their sizes (two boxes of one object, one of all of it and one of its top half)."""
    inter = intersection_areas(a, b)
    smaller = np.minimum(box_areas(a)[:, None], box_areas(b)[None, :])
    return np.asarray(np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0), np.float32)


def top_region(boxes: FloatArray, fraction: float) -> npt.NDArray[np.float32]:
    """The top ``fraction`` of each box (the head region of a person box)."""
    out = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    out[:, 3] = out[:, 1] + (out[:, 3] - out[:, 1]) * np.float32(fraction)
    return out


Region = Literal["head", "upper_body", "body"]
UPPER_BODY_END = 0.6
"""The upper body ends at this share of the person box's height."""


def body_regions(boxes: FloatArray, head_fraction: float) -> dict[Region, npt.NDArray[np.float32]]:
    """A person box's regions: ``head`` (the top ``head_fraction``), ``upper_body`` (from there to
    ``UPPER_BODY_END``) and ``body`` (the whole box). The ppe rule looks for items in them and the second
    stage crops them."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    h = boxes[:, 3] - boxes[:, 1]
    upper = boxes.copy()
    upper[:, 1] = boxes[:, 1] + h * np.float32(head_fraction)
    upper[:, 3] = boxes[:, 1] + h * np.float32(UPPER_BODY_END)
    return {"head": top_region(boxes, head_fraction), "upper_body": upper, "body": boxes}


def anchor_points(boxes: FloatArray, anchor: Anchor) -> npt.NDArray[np.float32]:
    """``(N, 2)`` reference points of boxes: the feet (``bottom_center``), the middle or the top."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    x = (b[:, 0] + b[:, 2]) * np.float32(0.5)
    if anchor == "bottom_center":
        y = b[:, 3]
    elif anchor == "top_center":
        y = b[:, 1]
    else:
        y = (b[:, 1] + b[:, 3]) * np.float32(0.5)
    return np.stack([x, y], axis=1).astype(np.float32)


def points_in_polygon(points: FloatArray, polygon: FloatArray) -> npt.NDArray[np.bool_]:
    """``(N,)`` whether each point lies inside the polygon (even-odd rule, all points at once)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, np.float64).reshape(-1, 2)
    if len(pts) == 0 or len(poly) < 3:
        return np.zeros(len(pts), bool)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    dy = np.where(y2 == y1, 1.0, y2 - y1)
    x_cross = x1 + (y - y1) * (x2 - x1) / dy
    crossings = straddles & (x < x_cross)
    return np.asarray(crossings.sum(axis=1) % 2 == 1)
