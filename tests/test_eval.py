"""`sitewatch eval` scores what it should: recall never above 1, duplicates counted, nothing left in the
temp directory, and events that say which frame of a file decided them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import Site

from sitewatch.daemon.config import load_config
from sitewatch.daemon.evaluate import evaluate, score
from sitewatch.daemon.events import iso_utc

T0 = 1_790_000_000.0
FPS = 10
BOX = [100.0, 50.0, 140.0, 150.0]


def _truth(intervals: list[tuple[float, float]]) -> dict[str, Any]:
    frames = [[{"id": 7, "box": BOX, "hat": False, "in_zone": False}] for _ in range(100)]
    violations = [{"worker": 7, "condition": "no_hardhat", "start": a, "end": b} for a, b in intervals]
    return {
        "version": 1,
        "fps": FPS,
        "size": [640, 384],
        "zones": {},
        "frames": frames,
        "violations": violations,
    }


def _start(began: float, decided: float) -> dict[str, Any]:
    return {
        "type": "start", "rule": {"name": "hat", "kind": "ppe"}, "bbox": {"xyxy": BOX},
        "started_at": iso_utc(T0 + began), "frame_ts": iso_utc(T0 + decided),
        "frame_index": round(decided * FPS),
    }  # fmt: skip


@pytest.fixture
def config(site: Site) -> Any:
    rule = {"name": "hat", "kind": "ppe", "min_duration": 1.0}
    return load_config(site.config([{"name": "cam", "url": str(site.video("cam", 5)), "rules": [rule]}]))


def test_an_alert_on_a_short_interval_counts_for_precision_not_recall(config: Any) -> None:
    """Intervals shorter than min_duration are not in the truth count, so finding one must not push
    recall past 1 (it did: 2 found of 1 counted)."""
    truth = _truth([(1.0, 3.0), (5.0, 5.5)])  # the second is shorter than min_duration
    (s,) = score(config, truth, [_start(1.0, 2.0), _start(5.0, 6.0)], T0)
    assert (s.alerts, s.matched_alerts, s.intervals, s.found_intervals) == (2, 2, 1, 1)
    assert s.recall == 1.0 and s.precision == 1.0


def test_a_second_alert_on_the_same_interval_is_a_duplicate(config: Any) -> None:
    truth = _truth([(1.0, 8.0)])
    (s,) = score(config, truth, [_start(1.0, 2.0), _start(4.0, 5.0)], T0)
    assert s.row()["duplicates"] == 1 and s.found_intervals == 1 and s.recall == 1.0


def test_eval_leaves_no_track_log_behind(site: Site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for i in range(30):
        site.detect("cam", i, (40.0, 20.0, 80.0, 110.0, 0.9, "person"))
    rule = {"name": "hat", "kind": "ppe", "min_duration": 1.0}
    camera = {"name": "cam", "url": str(site.video("cam", 30)), "rules": [rule]}
    config = load_config(site.config([camera]))
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(_truth([(0.0, 2.9)])))
    (s,), frames = evaluate(config, truth)
    assert frames == 30 and s.alerts == 1
    assert list(scratch.iterdir()) == []


def test_events_from_a_file_say_which_frame_and_media_time_decided_them(site: Site) -> None:
    for i in range(40):
        site.detect("cam", i, (40.0, 20.0, 80.0, 110.0, 0.9, "person"))
    zones = {"all": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}
    rule = {"name": "in", "kind": "zone_intrusion", "zone": "all", "min_duration": 1.0, "clear_after": 0.5}
    site.config([{"name": "cam", "url": str(site.video("cam", 40)), "zones": zones, "rules": [rule]}])
    result = site.run()
    assert result.rc == 0 and len(result.events) == 2, result.err
    start, end = result.events
    # the person is there from the first frame (confirmed at once); the alert starts min_duration later
    assert (start["type"], start["frame_index"], start["media_ts"]) == ("start", 10, pytest.approx(1.0))
    assert end["reason"] == "shutdown" and end["frame_index"] == 39
