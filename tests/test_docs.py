"""The docs say what the code does: the lists a reader relies on are checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import Site
from prometheus_client import generate_latest

from daemon.sources import CameraState

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
    from daemon.config import load_config
    from daemon.pipeline import Pipeline
    from daemon.preflight import checked_detector

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
        exposed.add(f"{name}_total" if kind == "counter" and not name.endswith("_total") else name)
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("and `/metrics` for Prometheus") : readme.index("Labels are names, never")]
    documented = set(re.findall(r"`(sitewatch_\w+)", section))
    assert documented == exposed
