"""Two stages: a detector finds the people, the demo classifier decides their hard hats from head crops
(samples/two-stage.toml, models/sitewatch-hardhat-cls/)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from helpers import read_events, to_toml, write_script
from train_head_classifier import head_crops

from sitewatch.daemon.attributes.stage import AttributeStage
from sitewatch.daemon.cli import main
from sitewatch.daemon.config import ClassifierConfig, Config, parse_config
from sitewatch.daemon.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "models" / "sitewatch-hardhat-cls"
SAMPLE = ROOT / "samples" / "site.mp4"
TRUTH = json.loads(Path(str(SAMPLE) + ".truth.json").read_text())
SCHEMA = json.loads((ROOT / "docs" / "event.schema.json").read_text())


def test_the_demo_classifier_is_small_and_carries_its_card() -> None:
    size = sum(f.stat().st_size for f in CLASSIFIER.iterdir())
    assert size <= 10 * 2**20
    card = (CLASSIFIER / "README.md").read_text()
    assert "synthetic" in card and "held-out" in card
    metrics = json.loads((CLASSIFIER / "metrics.json").read_text())
    assert metrics["family_left_out"] == "toon" and "toon" not in metrics["families_trained"]


@pytest.mark.model
def test_the_demo_classifier_tells_hats_from_bare_heads_on_held_out_crops() -> None:
    """Fresh crops of every family (seed unseen in training), the left-out toon family included, cut as
    the second stage cuts them; hats carried in the hand count as bare heads."""
    crops, labels = head_crops(48, ("flat", "round", "photo", "toon"), seed=4242)
    assert len(crops) >= 100 and 0.25 < np.mean(labels) < 0.75
    stage = AttributeStage([ClassifierConfig(name="hardhat", path=str(CLASSIFIER), device="cpu")])
    looks = stage.classifiers[0].classify(crops)
    said_bare = np.array([v == "no_hardhat" for v in looks.values])
    accuracy = float((said_bare == np.array(labels, bool)).mean())
    assert accuracy >= 0.9, f"accuracy {accuracy:.3f} on {len(crops)} crops"


def sample_config(tmp_path: Path, model: dict[str, Any] | None = None) -> dict[str, Any]:
    """samples/two-stage.toml with absolute paths and outputs in ``tmp_path``."""
    raw = tomllib.loads((ROOT / "samples" / "two-stage.toml").read_text())
    raw["model"].update({"path": str(ROOT / "models" / "sitewatch-ppe-demo.pt"), "device": "cpu",
                         "cache_dir": str(tmp_path / "models"), **(model or {})})  # fmt: skip
    raw["classifiers"][0].update({"path": str(CLASSIFIER), "device": "cpu"})
    raw["cameras"][0]["url"] = str(SAMPLE)
    raw["sinks"] = {"jsonl": {"path": str(tmp_path / "events.jsonl"), "fsync": False},
                    "snapshots": {"dir": str(tmp_path / "snapshots")}}  # fmt: skip
    return raw


def test_the_two_stage_sample_config_is_valid() -> None:
    config: Config = parse_config(
        tomllib.loads((ROOT / "samples" / "two-stage.toml").read_text()), ROOT / "samples"
    )
    assert config.model.classes == ["person"]
    (rule,) = [r for r in config.cameras[0].rules if r.kind == "ppe"]
    assert rule.attributes == {"hardhat": "yes"} and rule.required == []  # type: ignore[union-attr]
    assert Path(config.classifiers[0].path).resolve() == CLASSIFIER


@pytest.mark.model
def test_ppe_by_attribute_end_to_end_with_a_scripted_detector(tmp_path: Path) -> None:
    """The people boxes are the clip's truth (a scripted detector); the hats are only the classifier's
    to decide, from the real pixels. Every no-hard-hat worker gets one alert, every start says why."""
    rows = {
        ("site", i): [(*p["box"], 0.9, "person") for p in people] for i, people in enumerate(TRUTH["frames"])
    }
    script = write_script(tmp_path / "people.jsonl", rows, ["person"])
    raw = sample_config(tmp_path, {"backend": "scripted", "path": str(script), "classes": []})
    config = tmp_path / "config.toml"
    config.write_text(to_toml({**raw, "tracker": {"min_hits": 2}}))
    assert main(["run", "--config", str(config)]) == 0
    events = read_events(tmp_path / "events.jsonl")
    for e in events:
        jsonschema.validate(e, SCHEMA)
    starts = [e for e in events if e["rule"]["name"] == "hardhat" and e["type"] == "start"]
    assert starts, "no hard-hat alert at all"
    for e in starts:
        decision = e["attributes"]["hardhat"]
        assert decision["value"] == "no" and decision["looks"] >= 3 and decision["confidence"] >= 0.6
    scores, _ = evaluate(parse_config(raw, tmp_path), Path(str(SAMPLE) + ".truth.json"))
    (hat,) = [s for s in scores if s.rule == "hardhat"]
    assert hat.precision >= 0.9 and hat.recall >= 0.9, hat.row()


@pytest.mark.model
def test_the_two_stage_sample_finds_the_workers_without_hats(tmp_path: Path) -> None:
    """The shipped sample as `sitewatch eval` scores it: the demo model as a person detector, the
    classifier deciding the hats."""
    scores, frames = evaluate(
        parse_config(sample_config(tmp_path), tmp_path), Path(str(SAMPLE) + ".truth.json")
    )
    assert frames == len(TRUTH["frames"])
    (hat,) = [s for s in scores if s.rule == "hardhat"]
    assert hat.precision >= 0.9 and hat.recall >= 0.9, hat.row()


def test_check_config_loads_the_classifiers_as_run_will(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = sample_config(tmp_path)
    config = tmp_path / "two-stage.toml"
    config.write_text(to_toml(raw))
    assert main(["check-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "classifier: hardhat = image_classification" in out and "every 0.5 s, 3 looks to decide" in out
    (tmp_path / "not-a-model").mkdir()
    raw["classifiers"][0]["path"] = str(tmp_path / "not-a-model")
    config.write_text(to_toml(raw))
    assert main(["check-config", str(config)]) == 2
    assert "classifiers[0].path: cannot load an image processor" in capsys.readouterr().err
