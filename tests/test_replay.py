"""Record detections and tracks while running, then re-run only the rules on the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Site

from sitewatch.daemon.cli import main


def shape(events: list[dict]) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (e["type"], e["rule"]["name"], e["track_id"], e["started_at"], e["ended_at"], e["reason"])
        for e in events
    ]


@pytest.fixture
def recorded(site: Site) -> tuple[Site, Path]:
    for i in range(60):  # a walker crossing into the right half, and a bare-headed worker
        x = 5 + 2.5 * i
        site.detect("yard", i, (x, 20, x + 20, 100, 0.9, "person"), (10, 20, 30, 100, 0.9, "person"))
    video = site.video("yard", 60)
    zone = {"points": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}
    rules = [
        {
            "name": "keep-out",
            "kind": "zone_intrusion",
            "zone": "right",
            "min_duration": 0.5,
            "clear_after": 0.3,
        },
        {"name": "hat", "kind": "ppe", "min_duration": 2.0, "clear_after": 0.3},
        {"name": "door", "kind": "line_crossing", "line": "mid"},
    ]
    cam = {"name": "yard", "url": str(video), "zones": {"right": zone}, "record_tracks": True, "rules": rules,
           "lines": {"mid": {"points": [[0.5, 0.0], [0.5, 1.0]]}}}  # fmt: skip
    site.config([cam], record_dir="out/tracks")
    result = site.run()
    assert result.rc == 0
    return site, site.root / "out/tracks/yard.jsonl"


def test_replay_reproduces_the_live_events(
    recorded: tuple[Site, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    site, log = recorded
    live = [json.loads(x) for x in (site.root / "out/events.jsonl").read_text().splitlines()]
    assert {e["rule"]["name"] for e in live} == {"keep-out", "hat", "door"}
    assert len(log.read_text().splitlines()) == 60
    out = site.root / "replayed.jsonl"
    assert main(["replay", "--config", str(site.root / "config.toml"), str(log), "--out", str(out)]) == 0
    replayed = [json.loads(x) for x in out.read_text().splitlines()]
    assert shape(replayed) == shape(live)
    assert all(e["snapshot"] is None for e in replayed)
    assert "yard keep-out start: 1" in capsys.readouterr().err


def test_replay_with_a_changed_threshold_changes_the_events(recorded: tuple[Site, Path]) -> None:
    site, log = recorded
    config = site.root / "config.toml"
    config.write_text(config.read_text().replace("min_duration = 2.0", "min_duration = 10.0"))
    out = site.root / "replayed.jsonl"
    assert main(["replay", "--config", str(config), str(log), "--out", str(out)]) == 0
    rules = {json.loads(x)["rule"]["name"] for x in out.read_text().splitlines()}
    assert rules == {"keep-out", "door"}  # nobody stays bare-headed for 10 s


def test_a_broken_log_is_a_clear_error(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.config([{"name": "yard", "url": str(site.video("yard", 2))}])
    log = site.root / "bad.jsonl"
    log.write_text('{"camera": "yard"}\n')
    assert main(["replay", "--config", str(site.root / "config.toml"), str(log)]) == 2
    assert f"{log}:1: not a track record" in capsys.readouterr().err
