"""The second stage: crops prepared exactly as the model's processor says, looks batched off the
inference thread, decisions by vote, refreshed on a timer and never per frame."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import transformers as tf
from hf_models import clip, resnet_classifier, vit_classifier

from sitewatch.daemon.attributes.preprocess import CropPreprocessor
from sitewatch.daemon.attributes.stage import AttributeStage, crop_regions
from sitewatch.daemon.attributes.vote import Decision, Vote
from sitewatch.daemon.config import ClassifierConfig, ConfigError
from sitewatch.daemon.types import Frame, Tracks

SHAPES = [(37, 21, 3), (50, 50, 3), (13, 40, 3), (101, 77, 3), (8, 9, 3)]
CROPS = [np.random.default_rng(k).integers(0, 256, shape, dtype=np.uint8) for k, shape in enumerate(SHAPES)]


@pytest.mark.parametrize(
    ("processor", "kw"),
    [
        (tf.ViTImageProcessor, {"size": {"height": 32, "width": 32}}),
        (tf.CLIPImageProcessor, {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}}),
        (tf.ConvNextImageProcessor, {"size": {"shortest_edge": 40}, "crop_pct": 0.875}),  # resize, then crop
        (tf.ConvNextImageProcessor, {"size": {"shortest_edge": 384}}),  # warps at 384 and above
        (tf.SiglipImageProcessor, {"size": {"height": 48, "width": 48}}),
        (tf.MobileNetV2ImageProcessor,
         {"size": {"shortest_edge": 40}, "crop_size": {"height": 33, "width": 33}}),
        (tf.ViTImageProcessor, {"size": {"height": 24, "width": 40}, "image_mean": [0.485, 0.456, 0.406],
                                "image_std": [0.229, 0.224, 0.225], "resample": 3}),  # ImageNet, bicubic
    ],
)  # fmt: skip
def test_crops_are_prepared_exactly_as_the_models_processor_prepares_them(
    processor: Any, kw: dict[str, Any]
) -> None:
    directory = tempfile.mkdtemp()
    processor(**kw).save_pretrained(directory)
    reference = tf.AutoImageProcessor.from_pretrained(directory)
    expected = reference(images=CROPS, return_tensors="pt")["pixel_values"]
    ours = CropPreprocessor.from_processor(reference)(CROPS)
    assert ours.shape == expected.shape and ours.dtype == torch.float32
    assert float((ours - expected).abs().max()) <= 1e-5


# --- the vote -----------------------------------------------------------------------------------------

NO, YES = "no", "yes"


@pytest.mark.parametrize(
    ("looks", "expected"),
    [
        ([], None),
        ([(NO, 0.9), (NO, 0.9)], None),  # two looks: not enough
        ([(NO, 0.9), (NO, 0.9), (NO, 0.9)], NO),  # three agreeing looks decide
        ([(NO, 0.9), (NO, 0.5), (NO, 0.9)], None),  # one look unsure: only two vote
        ([(NO, 0.9), (YES, 0.9), (NO, 0.9)], NO),  # 2 of 3 = 67 % >= 60 %
        ([(NO, 0.9), (YES, 0.9), (NO, 0.9), (YES, 0.9)], None),  # 50 %: undecided
        ([(YES, 0.9)] * 3 + [(NO, 0.95)], YES),  # one blurry crop cannot flip it
        ([(YES, 0.9)] * 3 + [(NO, 0.95)] * 3, None),  # three against three in the window of 7
        ([(YES, 0.9)] * 3 + [(NO, 0.95)] * 5, NO),  # the window forgets the oldest: 5 of 7 say no
        ([(YES, 0.9)] * 2 + [(NO, 0.1)] * 10 + [(YES, 0.9)], None),  # unsure looks push votes out
    ],
)  # fmt: skip
def test_an_attribute_is_decided_by_at_least_three_confident_looks_and_60_percent_agreement(
    looks: list[tuple[str, float]], expected: str | None
) -> None:
    vote = Vote(min_looks=3, agreement=0.6, min_confidence=0.6, window=7)
    decision = vote.decision()
    for value, confidence in looks:
        decision = vote.add(value, confidence)
    assert decision.value == expected
    assert decision.decided is (expected is not None)
    if expected is not None:
        assert 0.6 <= decision.confidence <= 1.0


def test_a_decision_reports_the_agreeing_looks_confidence_and_the_votes() -> None:
    vote = Vote(min_looks=3, agreement=0.6, min_confidence=0.6, window=7)
    for value, conf in [(NO, 0.8), (NO, 1.0), (YES, 0.7), (NO, 0.9)]:
        decision = vote.add(value, conf)
    assert decision == Decision(NO, pytest.approx(0.9), 4)


# --- crops and the stage ------------------------------------------------------------------------------


def classifier(path: Path, **kw: Any) -> ClassifierConfig:
    settings: dict[str, Any] = {"name": "hardhat", "path": str(path), "device": "cpu", **kw}
    return ClassifierConfig(**settings)


def test_the_head_region_is_cropped_with_padding_clipped_to_the_frame_and_in_rgb() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[..., 0] = 255  # blue in BGR
    boxes = np.array([[50, 10, 90, 90], [190, 0, 230, 80], [10, 10, 14, 20]], np.float32)
    cfg = ClassifierConfig(name="hardhat", path="x", head_fraction=0.25, padding=0.25, min_crop_px=8)
    a, b, tiny = crop_regions(image, boxes, cfg)
    assert a is not None and a.shape == (30, 60, 3)  # region 40 x 20 at (50, 10), padded by 10 x 5
    assert b is not None and b.shape == (25, 20, 3)  # cut by the right and top edges
    assert tiny is None  # 4 px wide: not judged
    assert (a[..., 2] == 255).all() and (a[..., 0] == 0).all()  # RGB


def tracks(ids: list[int], boxes: list[list[float]], label: str = "person") -> Tracks:
    n = len(ids)
    return Tracks(np.array(ids, np.int64), np.array(boxes, np.float32).reshape(-1, 4),
                  np.full(n, 0.9, np.float32), np.array([label] * n), np.arange(n))  # fmt: skip


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return vit_classifier(tmp_path_factory.mktemp("vit") / "vit", {0: "hardhat", 1: "no_hardhat"})


def run_frames(stage: AttributeStage, camera: str, fps: float, seconds: float,
               make: Callable[[int], Tracks]) -> None:  # fmt: skip
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for i in range(round(seconds * fps)):
        stage.schedule(Frame(camera, i, 1000.0 + i / fps, image), make(i))


def test_a_track_is_looked_at_when_confirmed_then_every_refresh_seconds_never_per_frame(
    tiny_vit: Path,
) -> None:
    stage = AttributeStage([classifier(tiny_vit, refresh_seconds=1.0)])
    people = tracks([1, 2], [[10, 10, 60, 150], [100, 20, 150, 160]])
    run_frames(stage, "cam", fps=10, seconds=3.1, make=lambda i: people)  # 31 frames, 0 to 3 s
    assert stage._queue.qsize() == 2 * 4  # at 0, 1, 2 and 3 s, not 31 times
    hats = tracks([7], [[10, 10, 60, 150]], label="hardhat")
    run_frames(stage, "other", fps=10, seconds=2, make=lambda i: hats)
    assert stage._queue.qsize() == 8  # only tracks of the classifier's label


def test_looks_are_batched_across_cameras_and_tracks_and_become_decisions(tiny_vit: Path) -> None:
    stage = AttributeStage([classifier(tiny_vit, refresh_seconds=0.5, min_confidence=0.0, min_looks=3)])
    calls: list[int] = []
    real = stage.classifiers[0].classify
    stage.classifiers[0].classify = lambda crops: calls.append(len(crops)) or real(crops)  # type: ignore[method-assign]
    people = tracks([1, 2, 3], [[10, 10, 60, 150], [100, 20, 150, 160], [200, 30, 260, 200]])
    run_frames(stage, "a", fps=10, seconds=1.45, make=lambda i: people)
    run_frames(stage, "b", fps=10, seconds=1.45, make=lambda i: people)
    queued = stage._queue.qsize()
    assert queued == 2 * 3 * 3
    stage.start()
    try:
        assert stage.drain(30)
    finally:
        stage.stop()
    assert sum(calls) == queued and len(calls) == 1  # all of them in one batch
    for camera in ("a", "b"):
        decisions = stage.decisions(camera)
        assert set(decisions) == {1, 2, 3}
        for attrs in decisions.values():
            d = attrs["hardhat"]
            assert d.looks == 3 and d.value in (
                "hardhat",
                "no_hardhat",
            )  # a random model is sure of something
    stage.forget("a", [1, 2])
    assert set(stage.decisions("a")) == {3} and set(stage.decisions("b")) == {1, 2, 3}


def test_class_names_map_to_attribute_values_and_unknown_classes_are_a_config_error(tiny_vit: Path) -> None:
    stage = AttributeStage([classifier(tiny_vit, values={"hardhat": "yes", "no_hardhat": "no"})])
    looks = stage.classifiers[0].classify(CROPS)
    assert set(looks.values) <= {"yes", "no"} and len(looks.values) == len(CROPS)
    assert ((looks.confidence >= 0.5) & (looks.confidence <= 1.0)).all()  # the larger of two probabilities
    with pytest.raises(ConfigError, match=r"classifiers\[0\]\.values: 'helmet' is not a class of vit"):
        AttributeStage([classifier(tiny_vit, values={"helmet": "yes"})])


def test_a_resnet_with_a_convnext_processor_classifies_crops_of_any_size(tmp_path: Path) -> None:
    path = resnet_classifier(tmp_path / "resnet", {0: "hardhat", 1: "head"})
    stage = AttributeStage([classifier(path)])
    looks = stage.classifiers[0].classify(CROPS)
    assert len(looks.values) == len(CROPS) and set(looks.values) <= {"hardhat", "head"}


def test_clip_prompts_are_embedded_once_and_map_to_values(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = clip(tmp_path / "clip")
    prompts = {
        "a worker wearing a hard hat": "yes",
        "a yellow helmet": "yes",
        "a worker with a bare head": "no",
    }
    stage = AttributeStage([classifier(path, kind="zero_shot", prompts=prompts)])
    clf: Any = stage.classifiers[0]
    assert clf._text.shape[0] == 3 and clf.value_names == ["no", "yes"]
    looks = clf.classify(CROPS)
    # the reference: CLIP's own forward on the same crops, probabilities of the two "yes" prompts summed
    model = tf.CLIPModel.from_pretrained(path).eval()
    processor = tf.CLIPProcessor.from_pretrained(path)
    with torch.inference_mode():
        out = model(**processor(text=list(prompts), images=CROPS, return_tensors="pt", padding=True))
    probs = out.logits_per_image.softmax(-1)
    yes = (probs[:, 0] + probs[:, 1]).numpy()
    np.testing.assert_allclose(
        np.where(np.array(looks.values) == "yes", looks.confidence, 1 - looks.confidence), yes, atol=1e-4
    )


def test_a_classifier_that_raises_loses_those_looks_counts_them_and_goes_on(tiny_vit: Path) -> None:
    stage = AttributeStage([classifier(tiny_vit, refresh_seconds=0.5, min_confidence=0.0)])
    real = stage.classifiers[0].classify
    failures = iter([True])

    def flaky(crops: Any) -> Any:
        if next(failures, False):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real(crops)

    stage.classifiers[0].classify = flaky  # type: ignore[method-assign]
    people = tracks([1], [[10, 10, 60, 150]])
    stage.start()
    try:
        run_frames(stage, "a", fps=10, seconds=0.1, make=lambda i: people)
        assert stage.drain(30)
        assert stage.errors["hardhat"] == 1 and stage.thread.is_alive()
        run_frames(stage, "a", fps=2, seconds=1.0, make=lambda i: people)  # half a second later: due again
        assert stage.drain(30)
        assert stage.looks["hardhat"] >= 1 and stage.decisions("a")[1]["hardhat"].looks >= 1
    finally:
        stage.stop()


def test_a_full_queue_defers_looks_and_counts_them(tiny_vit: Path) -> None:
    stage = AttributeStage([classifier(tiny_vit, queue_size=2)])
    people = tracks([1, 2, 3], [[10, 10, 60, 150], [100, 20, 150, 160], [200, 30, 260, 200]])
    run_frames(stage, "a", fps=10, seconds=0.1, make=lambda i: people)
    assert stage._queue.qsize() == 2 and stage.deferred["hardhat"] == 1
    stage._queue.get_nowait()
    run_frames(stage, "a", fps=10, seconds=0.1, make=lambda i: people)  # the deferred track is still due
    assert stage._queue.qsize() == 2 and stage.deferred["hardhat"] == 1
