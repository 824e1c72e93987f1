"""Slicing: overlapping tiles find what the scaled-down whole frame cannot, and each object comes out once,
whole, whether it sits inside a tile, across a tile border, or is larger than any tile."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from sitewatch.daemon.config import ConfigError, ModelConfig, parse_config
from sitewatch.daemon.detectors import Detector, create_detector
from sitewatch.daemon.detectors.slicing import SlicingDetector, tiles
from sitewatch.daemon.geometry import iou_matrix
from sitewatch.daemon.types import Detections, Frame

RED = (0, 0, 255)


class BlobDetector(Detector):
    """A deterministic stand-in for a model: scales each image to ``imgsz`` on its long side, as a model
    does, and reports red blobs of at least ``min_px`` pixels at that scale, as "person". Small objects
    vanish at a low input size exactly as they do for a network."""

    name = "blobs"
    labels = frozenset({"person"})

    def __init__(self, imgsz: int = 320, min_px: int = 5) -> None:
        self.imgsz, self.min_px = imgsz, min_px
        self.calls: list[int] = []

    def input_size(self, frame_size: tuple[int, int]) -> int | None:
        return self.imgsz

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        self.calls.append(len(frames))
        out = []
        for f in frames:
            h, w = f.image.shape[:2]
            scale = self.imgsz / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(np.ascontiguousarray(f.image), size, interpolation=cv2.INTER_AREA)
            mask = ((small[..., 2] > 150) & (small[..., 1] < 80)).astype(np.uint8)
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            boxes = [
                (x / scale, y / scale, (x + bw) / scale, (y + bh) / scale)
                for x, y, bw, bh, _ in stats[1:n]
                if min(bw, bh) >= self.min_px
            ]
            xyxy = np.array(boxes, np.float32).reshape(-1, 4)
            out.append(Detections(xyxy, np.full(len(xyxy), 0.9, np.float32), np.full(len(xyxy), "person")))
        return out


def scene(objects: list[tuple[int, int, int, int]], size: tuple[int, int] = (1280, 720)) -> Frame:
    image = np.full((size[1], size[0], 3), 90, np.uint8)
    for x1, y1, x2, y2 in objects:
        cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), RED, -1)
    return Frame("wide", 0, 0.0, image)


def test_tiles_cover_the_frame_and_overlap_as_asked() -> None:
    layout = tiles(1280, 720, 3, 2, 0.25)
    assert len(layout) == 6
    covered = np.zeros((720, 1280), bool)
    for t in layout:
        covered[t.y0 : t.y1, t.x0 : t.x1] = True
    assert covered.all()
    first, second = layout[0], layout[1]
    width = first.x1 - first.x0
    assert first.x1 - second.x0 == pytest.approx(0.25 * width, abs=2)
    assert first.inner == (False, False, True, True) and layout[-1].inner == (True, True, False, False)
    assert tiles(640, 360, 1, 1, 0.2)[0].inner == (False, False, False, False)


def test_small_people_lost_at_the_model_size_are_found_in_tiles() -> None:
    people = [(100 + 150 * k, 400, 112 + 150 * k, 430) for k in range(7)]  # 12x30 px in a 1280x720 frame
    frame = scene(people)
    assert len(BlobDetector().detect([frame])[0]) == 0  # 12 px -> 3 px at 320: under the 5 it needs
    found = SlicingDetector(BlobDetector(), 4, 2, 0.2, full_frame=True).detect([frame])[0]
    assert len(found) == len(people)
    assert (iou_matrix(np.array(people, np.float32), found.xyxy).max(axis=1) > 0.7).all()


def test_an_object_across_a_tile_border_comes_out_once_and_whole() -> None:
    layout = tiles(1280, 720, 2, 1, 0.2)
    border = layout[0].x1  # the right edge of the left tile, inside the right tile
    person = (border - 40, 300, border + 20, 420)  # cut by the left tile's edge, whole in the right tile
    found = SlicingDetector(BlobDetector(), 2, 1, 0.2, full_frame=False).detect([scene([person])])[0]
    assert len(found) == 1
    assert iou_matrix(np.array([person], np.float32), found.xyxy)[0, 0] > 0.9


def test_an_object_larger_than_a_tile_comes_from_the_full_frame_pass() -> None:
    truck = (100, 100, 1200, 650)
    tiled = SlicingDetector(BlobDetector(), 4, 2, 0.2, full_frame=True)
    found = tiled.detect([scene([truck])])[0]
    assert len(found) == 1 and iou_matrix(np.array([truck], np.float32), found.xyxy)[0, 0] > 0.95
    blob = tiled.inner
    assert isinstance(blob, BlobDetector) and blob.calls == [8, 1]  # all tiles in one batch, then the frame


def test_frames_of_several_cameras_are_tiled_in_one_batch_and_kept_apart() -> None:
    inner = BlobDetector()
    a = scene([(200, 200, 212, 230)])
    b = scene([(900, 500, 912, 530), (300, 100, 312, 130)], size=(1920, 1080))
    out = SlicingDetector(inner, 3, 2, 0.2, full_frame=False).detect([a, b])
    assert [len(d) for d in out] == [1, 2] and inner.calls == [12]
    assert (out[1].xyxy[:, 0] > 250).all()


def test_the_effective_input_size_counts_the_tiles() -> None:
    """The head-size check judges the frame at the size tiles give it: 2 tiles across at 320 each."""
    tiled = SlicingDetector(BlobDetector(imgsz=320), 2, 1, 0.2, full_frame=True)
    size = tiled.input_size((1280, 720))
    assert size is not None and 500 < size < 640


def test_config_turns_slicing_on_and_checks_its_values(tmp_path: Path) -> None:
    boxes = tmp_path / "boxes.jsonl"
    boxes.write_text("")
    plain = ModelConfig(backend="scripted", path=str(boxes))
    assert not isinstance(create_detector(plain), SlicingDetector)
    tiled = create_detector(plain.model_copy(update={"tiles": (2, 2)}))
    assert isinstance(tiled, SlicingDetector) and (tiled.cols, tiled.rows) == (2, 2)
    assert tiled.runtime == "scripted"  # the log and the demo name what runs the tiles
    for bad in ([0, 1], [2], [9, 1]):
        raw = {"model": {"path": "m.pt", "tiles": bad}, "cameras": [{"name": "a", "url": "x.mp4"}]}
        with pytest.raises(ConfigError, match=r"model\.tiles"):
            parse_config(raw, tmp_path)
