"""A model says what it knows: the demo model's card says "synthetic", and sitewatch warns once per
camera when it watches anything but a generated clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Site

from sitewatch.daemon.config import Config, parse_config
from sitewatch.daemon.modelcard import domain_warnings, read_card
from sitewatch.daemon.resources import DEMO_MODEL, SAMPLE_CLIP, packaged


def test_the_demo_model_carries_a_synthetic_card() -> None:
    card = read_card(str(packaged(DEMO_MODEL)))
    assert card is not None and card.domain == "synthetic" and "synthsite" in card.scenes


def _config(tmp_path: Path, model: str, url: str) -> Config:
    return parse_config({"model": {"path": model}, "cameras": [{"name": "gate", "url": url}]}, tmp_path)


def test_a_generated_clip_gets_no_warning_and_anything_else_does(site: Site, tmp_path: Path) -> None:
    model = str(packaged(DEMO_MODEL))
    assert domain_warnings(_config(tmp_path, model, str(packaged(SAMPLE_CLIP)))) == []
    (warning,) = domain_warnings(_config(tmp_path, model, str(site.video("cam", 3))))
    assert warning.startswith("camera gate: model sitewatch-ppe-demo.pt knows only synthetic scenes")
    assert "docs/models.md" in warning
    live = parse_config({"model": {"path": model}, "cameras": [{"name": "door", "url": "rtsp://10.0.0.9/s"}]},
                        tmp_path)  # fmt: skip
    assert len(domain_warnings(live)) == 1


def test_a_model_without_a_card_or_with_a_real_one_gets_no_warning(site: Site, tmp_path: Path) -> None:
    video = str(site.video("cam", 3))
    model = tmp_path / "site.pt"
    model.write_bytes(b"weights")
    assert domain_warnings(_config(tmp_path, str(model), video)) == []
    model.with_suffix(".json").write_text(json.dumps({"card": {"domain": "real", "scenes": "north yard"}}))
    assert domain_warnings(_config(tmp_path, str(model), video)) == []


@pytest.mark.model
def test_check_config_prints_the_warning_and_still_accepts_the_config(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import to_toml

    from sitewatch.daemon.cli import main

    config = site.root / "real.toml"
    config.write_text(to_toml({"model": {"path": DEMO_MODEL, "device": "cpu"},
                               "cameras": [{"name": "gate", "url": str(site.video("cam", 3))}]}))  # fmt: skip
    assert main(["check-config", str(config)]) == 0
    err = capsys.readouterr().err
    assert err.count("knows only synthetic scenes") == 1
