from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import make_video, read_events, to_toml, write_script

from sitewatch.daemon.cli import main

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "event.schema.json").read_text())
EVENTS = jsonschema.Draft202012Validator(SCHEMA)
"""The published event schema, checked once (``jsonschema.validate`` checks the schema itself on every
call, which costs more than validating the event)."""


@dataclass
class RunResult:
    rc: int
    events: list[dict[str, Any]]
    err: str
    snapshots: Path


@dataclass
class Site:
    """A scratch site: videos, a detection script and a config in a temp dir, and a way to run it."""

    root: Path
    capsys: pytest.CaptureFixture[str]
    script_rows: dict[tuple[str, int], list[tuple[float, float, float, float, float, str]]] = field(
        default_factory=dict
    )

    def video(self, name: str, n: int, fps: int = 10, **kw: Any) -> Path:
        return make_video(self.root / f"{name}.mp4", n, fps, **kw)

    def detect(self, camera: str, frame: int, *rows: tuple[float, float, float, float, float, str]) -> None:
        self.script_rows.setdefault((camera, frame), []).extend(rows)

    def config(self, cameras: list[dict[str, Any]], labels: list[str] | None = None, **top: Any) -> Path:
        script = write_script(
            self.root / "script.jsonl", self.script_rows, labels or ["person", "hardhat", "head"]
        )
        data: dict[str, Any] = {
            "model": {"backend": "scripted", "path": str(script), "min_confidence": 0.1},
            "tracker": {"min_hits": 2, "max_lost_seconds": 1.0},
            "service": {"http_port": 0},  # tests that want HTTP ask for a free port
            "sinks": {
                "jsonl": {"path": "out/events.jsonl", "fsync": False},
                "snapshots": {"dir": "out/snapshots"},
            },
            **top,
            # Scripted scenes hold still boxes from the first frame; PPE would leave such "background"
            # out (that is tested in test_rules.py), so the site's cameras do not use it unless asked.
            "cameras": [{"background_at_start": False, **cam} for cam in cameras],
        }
        path = self.root / "config.toml"
        path.write_text(to_toml(data))
        return path

    def run(self, *extra: str) -> RunResult:
        """``sitewatch run`` in-process; every event it wrote is checked against the published schema."""
        rc = main(["run", "--config", str(self.root / "config.toml"), *extra])
        err = self.capsys.readouterr().err
        events = read_events(self.root / "out/events.jsonl")
        for event in events:
            EVENTS.validate(event)
        return RunResult(rc, events, err, self.root / "out/snapshots")


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Site:
    return Site(tmp_path, capsys)


@pytest.fixture(scope="session")
def event_schema() -> dict[str, Any]:
    return SCHEMA
