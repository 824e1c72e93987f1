"""Exported runtimes: the same boxes as torch on real photos, batches across cameras, a cache that heals,
and a fallback to torch that says why in one line."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from videos import ultralytics_asset

from sitewatch.daemon.config import ModelConfig
from sitewatch.daemon.detectors import create_detector
from sitewatch.daemon.detectors.export_cache import MANIFEST, compare
from sitewatch.daemon.detectors.letterbox import BatchLetterbox, place, unplace
from sitewatch.daemon.detectors.runtimes import choose_runtime, installed
from sitewatch.daemon.detectors.ultralytics import UltralyticsDetector
from sitewatch.daemon.detectors.yolo_decode import decode, decode_torch
from sitewatch.daemon.resources import resolve_package_path
from sitewatch.daemon.types import Detections, Frame

PERSON_MODEL = "pkg:fall_detection/models/best.pt"
LABELS = {"Normal": "person", "Fall": "person"}
EXPORTED = [r for r in ("openvino", "onnxruntime") if installed(r)]
BATCHED = ["torch", *EXPORTED]
"""Runtimes fed by the daemon's own letterbox and decoding (torch: the .pt network itself)."""


def photo(name: str) -> Frame:
    image = cv2.imread(str(ultralytics_asset(name)))
    return Frame(name.split(".")[0], 0, 0.0, image)


def person_model(runtime: str, cache: Path, **kw: object) -> ModelConfig:
    path = str(resolve_package_path(PERSON_MODEL))
    return ModelConfig(path=path, labels=LABELS, device="cpu", runtime=runtime, cache_dir=cache, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def torch_boxes(cache: Path) -> dict[str, Detections]:
    """``YOLO.predict`` on the ``.pt``: the reference every runtime must match."""
    detector = UltralyticsDetector(person_model("torch", cache))
    return {name: detector.detect([photo(name)])[0] for name in ("bus.jpg", "zidane.jpg")}


# --- letterbox and decoding: Ultralytics' geometry, without torch ---------------------------------


@pytest.mark.parametrize("size", [(640, 360), (1280, 720), (540, 960), (100, 100), (810, 1080)])
def test_letterbox_is_ultralytics_letterbox(size: tuple[int, int]) -> None:
    from ultralytics.data.augment import LetterBox

    w, h = size
    image = np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ours, _ = BatchLetterbox()([image], 640)
    theirs = LetterBox(new_shape=(640, 640), auto=True, stride=32)(image=image)
    assert ours[0].shape == theirs.shape
    assert np.array_equal(ours[0], theirs)


def test_frames_of_different_sizes_share_a_batch_and_map_back() -> None:
    frames = [np.zeros((360, 640, 3), np.uint8), np.zeros((960, 540, 3), np.uint8)]
    batch, placements = BatchLetterbox()(frames, 640)
    assert batch.shape == (2, 640, 640, 3)  # the larger of 384x640 and 640x384 each way
    assert (placements[0].pad_x, placements[0].pad_y) == (0, 12)  # where it would be alone
    assert np.all(batch[0, 384:] == 114)
    for image, p in zip(frames, placements, strict=True):
        h, w = image.shape[:2]
        box = np.array([[10.0, 20.0, w - 30.0, h - 5.0]], np.float32)
        forward = box * p.scale + np.array([p.pad_x, p.pad_y, p.pad_x, p.pad_y], np.float32)
        assert np.allclose(unplace(forward.copy(), p), box, atol=1e-3)


def test_placement_pads_to_the_stride() -> None:
    p, w, h = place(1920, 1080, 640)
    assert (w, h) == (640, 384) and p.scale == pytest.approx(1 / 3) and (p.pad_x, p.pad_y) == (0, 12)


def test_decoding_suppresses_overlaps_within_a_class_only() -> None:
    # anchors layout: rows cx, cy, w, h, score(class 0), score(class 1); columns are anchors
    anchors = np.array(
        [
            [100, 102, 100, 300],
            [100, 100, 100, 300],
            [50, 50, 50, 40],
            [80, 80, 80, 40],
            [0.9, 0.8, 0.1, 0.05],  # class 0: the second overlaps the first (IoU ~0.92)
            [
                0.0,
                0.0,
                0.85,
                0.7,
            ],  # class 1: the third sits on the same spot, another class; the last too low
        ],
        np.float32,
    )[None]
    (boxes,) = decode(anchors, conf=0.75, end2end=False)
    assert sorted(boxes.class_id.tolist()) == [0, 1]
    assert boxes.confidence.tolist() == pytest.approx([0.9, 0.85])
    assert boxes.xyxy[0].tolist() == pytest.approx([75, 60, 125, 140])


def test_decoding_on_the_device_agrees_with_decoding_in_numpy() -> None:
    import torch

    rng = np.random.default_rng(4)
    n = 500
    centres = rng.uniform(0, 640, (2, n))
    sizes = rng.uniform(10, 120, (2, n))
    scores = rng.uniform(0, 1, (3, n)) ** 3  # three classes, mostly low
    raw = np.concatenate([centres, sizes, scores]).astype(np.float32)[None].repeat(2, axis=0)
    for ours, theirs in zip(
        decode(raw, 0.25, False), decode_torch(torch.from_numpy(raw), 0.25, False), strict=True
    ):
        assert len(ours.xyxy) > 10
        assert np.allclose(ours.xyxy, theirs.xyxy, atol=1e-3)
        assert np.array_equal(ours.class_id, theirs.class_id)


def test_decoding_nms_free_heads_keeps_rows_above_the_threshold() -> None:
    rows = np.array([[[1, 2, 3, 4, 0.9, 2], [5, 6, 7, 8, 0.2, 1]]], np.float32)
    (boxes,) = decode(rows, conf=0.25, end2end=True)
    assert boxes.xyxy.tolist() == [[1, 2, 3, 4]] and boxes.class_id.tolist() == [2]


# --- runtime choice -----------------------------------------------------------------------------


def test_auto_picks_openvino_on_cpu_when_installed() -> None:
    choice = choose_runtime("auto", "cpu")
    expected = "openvino" if installed("openvino") else "onnxruntime" if installed("onnxruntime") else "torch"
    assert choice.runtime == expected and choice.reason.startswith("auto")
    assert choose_runtime("auto", "mps").runtime == "torch"
    assert choose_runtime("onnxruntime", "cpu").runtime == "onnxruntime"


# --- real model, real photos ---------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("runtime", BATCHED)
def test_each_runtime_finds_what_yolo_predict_finds_on_real_photos(
    runtime: str, cache: Path, torch_boxes: dict[str, Detections]
) -> None:
    detector = create_detector(person_model(runtime, cache))
    assert detector.runtime == runtime
    for name, reference in torch_boxes.items():
        found = detector.detect([photo(name)])[0]
        assert len(reference) >= 2  # real people in both photos
        assert compare(reference, found, 0.25) is None, name


@pytest.mark.model
@pytest.mark.parametrize("runtime", BATCHED)
def test_a_batch_from_two_cameras_gives_each_its_own_boxes(runtime: str, cache: Path) -> None:
    detector = create_detector(person_model(runtime, cache))
    bus, zidane = photo("bus.jpg"), photo("zidane.jpg")  # portrait and landscape in one batch
    together = detector.detect([bus, zidane])
    for frame, batched in zip((bus, zidane), together, strict=True):
        alone = detector.detect([frame])[0]
        assert len(alone) >= 2 and compare(alone, batched, 0.25) is None
        assert batched.xyxy[:, 2].max() <= frame.size[0] and batched.xyxy[:, 3].max() <= frame.size[1]


@pytest.mark.model
@pytest.mark.skipif(not installed("openvino"), reason="OpenVINO is not installed")
def test_a_damaged_cache_entry_is_exported_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, torch_boxes: dict[str, Detections]
) -> None:
    cfg = person_model("openvino", tmp_path)
    create_detector(cfg)
    (entry,) = [p for p in tmp_path.iterdir() if (p / MANIFEST).exists()]
    weights = next(entry.rglob("*.bin"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a half-written file
    with caplog.at_level(logging.INFO, logger="sitewatch"):
        detector = create_detector(cfg)
    assert detector.runtime == "openvino"
    assert any("damaged" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert compare(torch_boxes["bus.jpg"], detector.detect([photo("bus.jpg")])[0], 0.25) is None
    with caplog.at_level(logging.INFO, logger="sitewatch"):
        caplog.clear()
        create_detector(cfg)  # healed: loaded from the cache without exporting
    assert not any("exporting" in r.getMessage() for r in caplog.records)


@pytest.mark.model
def test_an_unavailable_runtime_falls_back_to_torch_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sitewatch"):
        detector = create_detector(person_model("tensorrt", tmp_path))  # no CUDA, no TensorRT here
    assert detector.runtime == "torch"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "tensorrt" in warnings[0] and "torch" in warnings[0], warnings
    assert len(detector.detect([photo("bus.jpg")])[0]) >= 2


def test_boxes_that_differ_are_reported() -> None:
    a = Detections.from_rows([(0, 0, 100, 200, 0.9, "person"), (300, 0, 400, 200, 0.5, "person")])
    moved = Detections.from_rows([(0, 0, 100, 200, 0.9, "person"), (330, 0, 430, 200, 0.5, "person")])
    relabelled = Detections.from_rows([(0, 0, 100, 200, 0.9, "head"), (300, 0, 400, 200, 0.5, "person")])
    borderline = Detections.from_rows([(0, 0, 100, 200, 0.9, "person")])  # 0.27 is within the margin
    assert compare(a, a, 0.25) is None
    assert compare(a, moved, 0.25) is not None
    assert compare(a, relabelled, 0.25) is not None
    low = Detections.from_rows([*[(0, 0, 100, 200, 0.9, "person")], (300, 0, 400, 200, 0.27, "person")])
    assert compare(low, borderline, 0.25) is None


@pytest.fixture(scope="module")
def yolo26(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A YOLO26 nano checkpoint built from Ultralytics' own model definition (random weights: nothing
    can be downloaded). Its head is the NMS-free kind."""
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("yolo26") / "yolo26n.pt"
    YOLO("yolo26n.yaml").save(path)
    return path


@pytest.mark.model
@pytest.mark.parametrize("runtime", BATCHED)
def test_yolo26_runs_on_every_runtime(runtime: str, yolo26: Path, cache: Path) -> None:
    cfg = ModelConfig(path=str(yolo26), device="cpu", runtime=runtime, cache_dir=cache, min_confidence=0.0)  # type: ignore[arg-type]
    detector = create_detector(cfg)
    assert detector.runtime == runtime  # exported, checked against torch and loaded: no fallback
    bus, zidane = photo("bus.jpg"), photo("zidane.jpg")
    for frame, found in zip((bus, zidane), detector.detect([bus, zidane]), strict=True):
        assert len(found) == 300  # the most a YOLO head returns, decoded whatever its layout
        assert found.xyxy[:, 2].max() <= frame.size[0] and found.xyxy[:, 3].max() <= frame.size[1]
        assert np.all(found.xyxy[:, 2] >= found.xyxy[:, 0])


@pytest.mark.model
@pytest.mark.skipif(not installed("openvino"), reason="OpenVINO is not installed")
def test_export_command_fills_the_cache_that_run_then_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import make_video, to_toml

    from sitewatch.daemon.cli import main
    from sitewatch.daemon.resources import DEMO_MODEL

    video = make_video(tmp_path / "gate.mp4", 5)
    raw = {
        "model": {"path": DEMO_MODEL, "device": "cpu", "cache_dir": "cache"},
        "service": {"http_port": 0},
        "cameras": [{"name": "gate", "url": str(video)}],
        "sinks": {"jsonl": {"path": "out/events.jsonl"}, "snapshots": {"dir": "out/snapshots"}},
    }
    config = tmp_path / "config.toml"
    config.write_text(to_toml(raw))
    assert main(["export", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "openvino export checked against torch and cached in" in out
    (entry,) = (tmp_path / "cache").iterdir()
    assert (entry / MANIFEST).is_file()
    assert main(["run", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "runtime: openvino" in err and "exporting" not in err  # the cached export, as it was

    raw["model"]["runtime"] = "tensorrt"  # asked for by name, and impossible here
    config.write_text(to_toml(raw))
    assert main(["export", "--config", str(config)]) == 2
    assert "model.runtime: tensorrt cannot run sitewatch-ppe-demo.pt" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.skipif(not installed("openvino"), reason="OpenVINO is not installed")
def test_an_export_whose_work_directory_name_draws_pt_is_still_found(
    tmp_path: Path, yolo26: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ultralytics names an OpenVINO export by replacing the model's suffix (".pt") everywhere in its
    path; a work directory whose random part began with "pt" once sent the export elsewhere."""
    import tempfile

    real = tempfile.mkdtemp

    def draws_pt(suffix: str | None = None, prefix: str | None = None, dir: str | None = None) -> str:
        return real(suffix, (prefix or "") + "pt", dir)

    monkeypatch.setattr(tempfile, "mkdtemp", draws_pt)
    cfg = ModelConfig(path=str(yolo26), device="cpu", runtime="openvino", cache_dir=tmp_path)  # type: ignore[arg-type]
    assert create_detector(cfg).runtime == "openvino"  # exported, found and checked: no fallback to torch
