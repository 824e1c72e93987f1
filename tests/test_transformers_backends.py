"""model.backend = "transformers" and "zero_shot": tiny random models built from configs and saved
locally (tests/hf_models.py) go through the same label map, label checks and batching as every backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hf_models import owlvit, rtdetr, yolos

from sitewatch.daemon.config import ConfigError, ModelConfig, parse_config
from sitewatch.daemon.detectors import create_detector, load_detector
from sitewatch.daemon.types import Frame


@pytest.fixture(scope="module")
def hf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    return {
        "rtdetr": rtdetr(root / "rtdetr"),
        "yolos": yolos(root / "yolos"),
        "owlvit": owlvit(root / "owlvit"),
    }


def frame(camera: str, w: int, h: int, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame(camera, 0, 0.0, rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def model(path: Path, backend: str = "transformers", **kw: Any) -> ModelConfig:
    settings: dict[str, Any] = {"min_confidence": 0.0, **kw}
    return ModelConfig(backend=backend, path=str(path), device="cpu", **settings)  # type: ignore[arg-type]


def config(path: Path, tmp_path: Path, **model_kw: Any) -> dict[str, Any]:
    video = tmp_path / "cam.mp4"
    video.write_bytes(b"")
    return {
        "model": {"backend": "transformers", "path": str(path), "device": "cpu", **model_kw},
        "cameras": [{"name": "cam", "url": str(video), "rules": [{"name": "hats", "kind": "ppe"}]}],
    }


@pytest.mark.parametrize("kind", ["rtdetr", "yolos"])
def test_a_detr_family_model_loads_from_its_directory_with_its_class_names(
    hf: dict[str, Path], kind: str
) -> None:
    det = create_detector(model(hf[kind]))
    assert det.labels == {"person", "hardhat", "head"}
    assert det.runtime == "transformers" and det.device == "cpu"
    out = det.detect([frame("a", 200, 120), frame("b", 160, 90, 1)])
    assert len(out) == 2
    for dets in out:
        assert len(dets) > 0  # min_confidence 0: every query is a box
        assert set(dets.label.tolist()) <= {"person", "hardhat", "head"}
        assert np.isfinite(dets.xyxy).all() and dets.confidence.dtype == np.float32


def test_frames_of_several_cameras_batched_give_what_each_gives_alone(hf: dict[str, Path]) -> None:
    det = create_detector(model(hf["rtdetr"], min_confidence=0.3))
    frames = [frame("a", 200, 120), frame("b", 160, 90, 1), frame("c", 320, 240, 2)]
    together = det.detect(frames)
    for f, batched in zip(frames, together, strict=True):
        (alone,) = det.detect([f])
        assert batched.label.tolist() == alone.label.tolist()
        np.testing.assert_allclose(batched.xyxy, alone.xyxy, atol=1e-3)
        np.testing.assert_allclose(batched.confidence, alone.confidence, atol=1e-5)


def test_post_processing_puts_a_known_box_at_each_frames_own_pixels(hf: dict[str, Path]) -> None:
    """The model says 'class hardhat, centre (0.5, 0.25), size 0.2 x 0.4 of the picture' for query 0 of
    every image; each frame must get it in its own pixels, through the processor's round trip."""
    det = create_detector(model(hf["rtdetr"], min_confidence=0.5))
    real = det._model  # type: ignore[attr-defined]

    def forward(**inputs: Any) -> Any:
        out = real(**inputs)
        logits = torch.full_like(out.logits, -20.0)
        logits[:, 0, 1] = 20.0
        boxes = out.pred_boxes.clone()
        boxes[:, 0] = torch.tensor([0.5, 0.25, 0.2, 0.4])
        return type(out)(logits=logits, pred_boxes=boxes)

    det._model = forward  # type: ignore[attr-defined]
    a, b = det.detect([frame("a", 200, 120), frame("b", 640, 360, 1)])
    assert a.label.tolist() == ["hardhat"] and b.label.tolist() == ["hardhat"]
    np.testing.assert_allclose(a.xyxy[0], [80, 6, 120, 54], atol=0.01)
    np.testing.assert_allclose(b.xyxy[0], [256, 18, 384, 162], atol=0.01)


def test_class_names_go_through_the_labels_map_and_classes_filter(hf: dict[str, Path]) -> None:
    det = create_detector(model(hf["rtdetr"], labels={"head": "bare_head"}, classes=["person", "bare_head"]))
    assert det.labels == {"person", "bare_head"}
    (dets,) = det.detect([frame("a", 200, 120)])
    assert set(dets.label.tolist()) <= {"person", "bare_head"}


def test_a_labels_key_the_model_does_not_have_is_a_config_error(hf: dict[str, Path], tmp_path: Path) -> None:
    cfg = parse_config(config(hf["rtdetr"], tmp_path, labels={"helmet": "hardhat"}), tmp_path)
    with pytest.raises(ConfigError, match=r"model.labels: 'helmet' is not a class"):
        load_detector(cfg)


def test_a_rule_needing_a_label_the_model_lacks_is_a_config_error(tmp_path: Path) -> None:
    rtdetr(tmp_path / "people", names={0: "person"})
    cfg = parse_config(config(tmp_path / "people", tmp_path), tmp_path)
    with pytest.raises(ConfigError, match=r"rules\[0\]\.required: .*'hardhat'"):
        load_detector(cfg)


def test_a_model_path_that_is_not_a_directory_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"model.path: model directory is not a directory"):
        parse_config(config(tmp_path / "model.pt", tmp_path), tmp_path)
    with pytest.raises(ConfigError, match=r"model.path: model directory not found"):
        parse_config(config(tmp_path / "nothing", tmp_path), tmp_path)


def test_a_directory_without_a_detector_is_reported(hf: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"model.path: cannot load an image processor"):
        create_detector(model(tmp_path / "empty"))


QUERIES = {"hard hat": "hardhat", "person": "person", "head without helmet": "head"}


def test_zero_shot_queries_become_the_canonical_labels(hf: dict[str, Path]) -> None:
    det = create_detector(model(hf["owlvit"], "zero_shot", queries=QUERIES))
    assert det.labels == {"hardhat", "person", "head"}
    out = det.detect([frame("a", 200, 120), frame("b", 160, 90, 1)])
    assert len(out) == 2 and all(len(d) > 0 for d in out)
    assert set(np.concatenate([d.label for d in out]).tolist()) <= {"hardhat", "person", "head"}


def test_zero_shot_embeds_the_queries_once_and_matches_the_full_forward(hf: dict[str, Path]) -> None:
    """OWL-ViT runs only its image tower per batch; its scores and boxes equal the model's own forward,
    which embeds the text every time."""
    det: Any = create_detector(model(hf["owlvit"], "zero_shot", queries=QUERIES))
    assert det._query_embeds is not None
    frames = [frame("a", 200, 120), frame("b", 160, 90, 1)]
    with torch.inference_mode():
        ours = det._owl_forward(frames)
        inputs = det._processor(
            text=[list(QUERIES)] * 2,
            images=[np.ascontiguousarray(f.image[..., ::-1]) for f in frames],
            return_tensors="pt",
            padding=True,
        )
        full = det._model(**inputs)
    torch.testing.assert_close(ours.logits, full.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.pred_boxes, full.pred_boxes, atol=1e-5, rtol=1e-5)


def test_a_query_threshold_applies_to_that_query_only(hf: dict[str, Path]) -> None:
    f = [frame("a", 200, 120)]
    (loose,) = create_detector(model(hf["owlvit"], "zero_shot", queries=QUERIES)).detect(f)
    people = np.sort(loose.confidence[loose.label == "person"])
    assert len(people) >= 2 and people[0] < people[-1]
    cut = float(people[len(people) // 2])  # half the person boxes score below this
    strict = create_detector(
        model(hf["owlvit"], "zero_shot", queries=QUERIES, query_thresholds={"person": cut})
    )
    (tight,) = strict.detect(f)
    kept = tight.confidence[tight.label == "person"]
    assert 0 < len(kept) < len(people) and (kept >= cut).all()
    for other in ("hardhat", "head"):  # the other queries keep min_confidence
        assert (tight.label == other).sum() == (loose.label == other).sum()


@pytest.mark.parametrize(
    ("model_kw", "message"),
    [
        ({"backend": "zero_shot"}, "zero_shot needs queries"),
        ({"queries": {"hat": "hardhat"}}, "queries and query_thresholds are for backend 'zero_shot'"),
        ({"backend": "zero_shot", "queries": {"hat": "hardhat"}, "query_thresholds": {"cap": 0.1}},
         "query_thresholds names queries that are not in queries"),
    ],
)  # fmt: skip
def test_zero_shot_settings_are_checked(
    hf: dict[str, Path], tmp_path: Path, model_kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config(hf["owlvit"], tmp_path, **model_kw), tmp_path)
