from __future__ import annotations

import numpy as np
import pytest

from sitewatch.daemon.geometry import (
    anchor_points,
    coverage_matrix,
    iou_matrix,
    points_in_polygon,
    top_region,
)


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 100, 100]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1, 1 / 3, 0], [0, 0, 0]], atol=1e-6)
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_coverage_is_share_of_the_item_inside_the_region() -> None:
    head = top_region(np.array([[0, 0, 10, 100]], np.float32), 0.3)
    np.testing.assert_allclose(head, [[0, 0, 10, 30]])
    hats = np.array([[2, 0, 8, 10], [2, 25, 8, 35], [50, 50, 60, 60]], np.float32)
    np.testing.assert_allclose(coverage_matrix(head, hats), [[1.0, 0.5, 0.0]], atol=1e-6)


@pytest.mark.parametrize(
    ("point", "inside"),
    [((5, 5), True), ((15, 5), False), ((5, 15), False), ((25, 25), False), ((3, 18), True)],
)
def test_points_in_a_concave_polygon(point: tuple[float, float], inside: bool) -> None:
    # an L shape: the square 0..10 plus a leg down the left side to y=20
    poly = np.array([[0, 0], [10, 0], [10, 10], [5, 10], [5, 20], [0, 20]], np.float32)
    assert points_in_polygon(np.array([point], np.float32), poly).tolist() == [inside]


def test_anchor_points() -> None:
    boxes = np.array([[0, 0, 10, 20]], np.float32)
    assert anchor_points(boxes, "bottom_center").tolist() == [[5, 20]]
    assert anchor_points(boxes, "center").tolist() == [[5, 10]]
    assert anchor_points(boxes, "top_center").tolist() == [[5, 0]]
