"""Gating: fewer detector calls on quiet cameras, the same alerts at (almost) the same times."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Site

from sitewatch.daemon.config import load_config
from sitewatch.daemon.detectors import Detector, load_detector
from sitewatch.daemon.gating import Gate, MotionMeter
from sitewatch.daemon.pipeline import Pipeline
from sitewatch.daemon.types import Detections, Frame

FPS = 10
N = 200


def box_at(i: int) -> list[tuple[float, float, float, float]]:
    """A worker walks in from the left (frames 20-50), stands still in the zone (50-120), walks out to
    the right (120-150); nothing moves before or after."""
    if 20 <= i < 50:
        x = -30 + (i - 20) * 5
    elif 50 <= i < 120:
        x = 120
    elif 120 <= i < 150:
        x = 120 + (i - 120) * 5
    else:
        return []
    return [(x, 30, x + 30, 100)]


class Counting(Detector):
    """The scripted detector, counting the frames it is asked about."""

    def __init__(self, inner: Detector) -> None:
        self.inner, self.name, self.labels, self.runtime = inner, inner.name, inner.labels, "scripted"
        self.frames: list[int] = []

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        self.frames.extend(f.index for f in frames)
        return self.inner.detect(frames)

    def warm_up(self, frame_size: tuple[int, int]) -> None:
        self.frames.append(-1)


def run_scene(site: Site, **gating: Any) -> tuple[list[dict[str, Any]], Counting, Pipeline]:
    video = site.video("walk", N, FPS, size=(320, 120), boxes=box_at)
    for i in range(N):
        for x1, y1, x2, y2 in box_at(i):
            site.detect("yard", i, (x1, y1, x2, y2, 0.9, "person"))
    config_path = site.config(
        [
            {
                "name": "yard",
                "url": str(video),
                "zones": {"right": {"points": [[0.3, 0], [1, 0], [1, 1], [0.3, 1]]}},
                "rules": [
                    {
                        "name": "in-zone",
                        "kind": "zone_intrusion",
                        "zone": "right",
                        "min_duration": 0.5,
                        "clear_after": 0.5,
                        "cooldown": 0.0,
                    }
                ],
                **gating,
            }
        ]
    )
    config = load_config(config_path)
    detector = Counting(load_detector(config))
    pipeline = Pipeline(config, detector)
    pipeline.start()
    while pipeline.worker_alive:
        pipeline.stop_event.wait(0.05)
    pipeline.shutdown()
    out = Path(config.sinks.jsonl.path)
    events = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return events, detector, pipeline


def times(events: list[dict[str, Any]], kind: str) -> list[float]:
    return [e["media_ts"] for e in events if e["type"] == kind and e["rule"]["name"] == "in-zone"]


@pytest.fixture
def ungated(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    events, detector, _ = run_scene(Site(tmp_path_factory.mktemp("ungated"), capsys))
    assert len([f for f in detector.frames if f >= 0]) == N
    assert len(times(events, "start")) == 1 and len(times(events, "end")) == 1
    return events


@pytest.mark.parametrize("every", [2, 5])
def test_detect_every_n_keeps_the_alert_within_one_detector_interval(
    site: Site, ungated: list[dict[str, Any]], every: int
) -> None:
    events, detector, pipeline = run_scene(site, detect_every=every)
    calls = [f for f in detector.frames if f >= 0]
    assert calls == list(range(0, N, every))
    assert pipeline.cameras["yard"].held == N - len(calls)
    interval = every / FPS
    for kind in ("start", "end"):
        gated, base = times(events, kind), times(ungated, kind)
        assert len(gated) == len(base) == 1
        assert abs(gated[0] - base[0]) <= interval + 1e-6, (kind, gated, base)


def test_motion_gate_detects_while_something_moves_and_holds_the_still_worker(
    site: Site, ungated: list[dict[str, Any]]
) -> None:
    events, detector, _ = run_scene(site, motion_gate=True, motion_refresh=3.0)
    calls = {f for f in detector.frames if f >= 0}
    assert len(calls) * 2 < N  # the quiet stretches are held
    assert set(range(22, 48)) <= calls and set(range(122, 148)) <= calls  # walking in and out: every frame
    still = [f for f in range(75, 118) if f in calls]  # once the background has taken him in
    assert 1 <= len(still) <= 3  # standing still: only the refresh every 3 s
    for kind in ("start", "end"):
        gated, base = times(events, kind), times(ungated, kind)
        assert len(gated) == len(base) == 1 and abs(gated[0] - base[0]) <= 1 / FPS + 1e-6, (kind, gated, base)


def test_motion_meter_ignores_noise_and_sees_a_walker() -> None:
    rng = np.random.default_rng(3)
    scene = rng.integers(60, 120, (360, 640, 3), dtype=np.uint8)
    meter = MotionMeter()
    assert meter(scene) == 1.0  # the first frame is all news
    noisy = [
        meter(np.clip(scene + rng.normal(0, 3, scene.shape), 0, 255).astype(np.uint8)) for _ in range(10)
    ]
    assert max(noisy) < 0.002
    walker = scene.copy()
    walker[100:300, 200:260] = 230
    assert meter(walker) > 0.02


def test_gate_counts_frames_and_refreshes_without_motion() -> None:
    every = Gate(every=3)
    assert [every.needs_detection(i / 10, None) for i in range(7)] == [
        True,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    motion = Gate(motion_threshold=0.01, refresh_s=1.0)
    decisions = [motion.needs_detection(i / 10, 0.0) for i in range(25)]
    assert [i for i, d in enumerate(decisions) if d] == [0, 10, 20]
    assert motion.needs_detection(2.5, 0.5)  # motion: at once


def test_a_reload_that_changes_gating_restarts_the_camera_with_the_new_gate(site: Site) -> None:
    video = site.video("yard", 5, FPS)
    config = load_config(site.config([{"name": "yard", "url": str(video)}]))
    pipeline = Pipeline(config, load_detector(config))
    try:
        gated = config.cameras[0].model_copy(update={"detect_every": 4, "motion_gate": True})
        changes = pipeline.reconfigure([gated])
        assert changes == ["camera yard restarted (source settings changed)"]
        gate = pipeline.cameras["yard"].gate
        assert (gate.every, gate.motion_threshold) == (4, gated.motion_threshold)
    finally:
        pipeline.shutdown()
