"""The docs say what the code does: the lists a reader relies on are checked against the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from conftest import Site
from prometheus_client import generate_latest
from pydantic import BaseModel

from sitewatch.daemon.sources import CameraState

ROOT = Path(__file__).parents[1]


def test_the_camera_states_in_the_readme_and_the_mqtt_docs_are_the_codes() -> None:
    states = {s.value for s in CameraState}
    readme = (ROOT / "README.md").read_text()
    listed = re.search(r"States \(([^)]*)\)", readme)
    assert listed is not None and set(re.findall(r"`(\w+)`", listed.group(1))) == states
    mqtt = (ROOT / "docs/mqtt.md").read_text()
    listed = re.search(r"States: ([^|]*)\|", mqtt)
    assert listed is not None and set(re.findall(r"`(\w+)`", listed.group(1))) == states


def test_the_readme_lists_exactly_the_metrics_the_daemon_exposes(site: Site) -> None:
    from sitewatch.daemon.config import load_config
    from sitewatch.daemon.pipeline import Pipeline
    from sitewatch.daemon.preflight import checked_detector

    config = load_config(site.config([{"name": "gate", "url": str(site.video("gate", 5))}]))
    pipeline = Pipeline(config, checked_detector(config))
    try:
        exposition = generate_latest(pipeline.metrics.registry).decode()
    finally:
        pipeline.shutdown()
    exposed = set()
    for name, kind in re.findall(r"^# TYPE (sitewatch_\w+) (\w+)$", exposition, re.M):
        if name.endswith("_created"):
            continue  # prometheus_client's creation time stamps of the histograms
        if kind == "counter" and not name.endswith("_total"):
            name += "_total"
        exposed.add(f"{name}_info" if kind == "info" else name)
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("and `/metrics` for Prometheus") : readme.index("Labels are names, never")]
    documented = set(re.findall(r"`(sitewatch_\w+)", section))
    assert documented == exposed


def _option_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every option a config can set, as dotted paths (rule kinds and camera fields under `cameras`)."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.add(path)
        for sub in _models_in(info.annotation):
            paths |= _option_paths(sub, f"{path}.")
    return paths


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def test_the_shipped_config_documents_every_option_the_code_has() -> None:
    """config.toml is the options reference: each key appears there, set or as a commented example,
    and it names no key the code does not have (a typo in a comment would teach a wrong key)."""
    from sitewatch.daemon.config import Config

    text = (ROOT / "config.toml").read_text()
    named = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.M))
    named |= {
        part for header in re.findall(r"^#?\s*\[\[?([a-z_.]+)\]?\]", text, re.M) for part in header.split(".")
    }
    options = {path.rsplit(".", 1)[-1] for path in _option_paths(Config)}
    missing = sorted(options - named)
    assert missing == [], f"options the code has but config.toml does not mention: {missing}"
    zone_and_line_names = {"restricted", "gate"}
    unknown = sorted(named - options - zone_and_line_names)
    assert unknown == [], f"keys in config.toml the code does not have: {unknown}"
