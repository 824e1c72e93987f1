"""What an operator's dashboard reads between events: retained rule states, line counts and object
counts on MQTT, and the counts that survive restarts and reloads (daemon/state.py, sinks/state.py)."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Site
from helpers import read_events, to_toml
from mosquitto import Subscriber

from sitewatch.daemon.cli import main
from sitewatch.daemon.config import CameraConfig, ZoneConfig, parse_config
from sitewatch.daemon.demo import demo_config
from sitewatch.daemon.events import CameraStatus
from sitewatch.daemon.resources import SAMPLE_CLIP, packaged
from sitewatch.daemon.rules import build_engine
from sitewatch.daemon.sources import CameraState
from sitewatch.daemon.state import CameraObjects, RuleState
from sitewatch.daemon.types import Detections, Frame, Tracks
from sitewatch.sinks.state import StateSink, StateStore

LOCAL_BROKER = 1883


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def active_at(events: list[dict[str, Any]], rule: str, ts: str) -> set[str]:
    """The truth from the event log: alerts of ``rule`` started at or before ``ts`` and not yet ended."""
    started = {
        e["alert_id"]
        for e in events
        if e["rule"]["name"] == rule and e["type"] == "start" and e["frame_ts"] <= ts
    }
    ended = {
        e["alert_id"]
        for e in events
        if e["rule"]["name"] == rule and e["type"] == "end" and e["frame_ts"] <= ts
    }
    return started - ended


def retained(port: int, topic: str, expect: int) -> dict[str, bytes]:
    """What a subscriber joining now (Home Assistant after a restart) reads: the retained messages."""
    sub = Subscriber(port, topic, client_id=f"late-{uuid.uuid4().hex[:8]}")
    try:
        sub.wait_for(lambda s: len(s.messages) >= expect, timeout=10)
        return {t: p for t, p, was_retained in sub.messages if was_retained}
    finally:
        sub.close()


def test_a_late_subscriber_reads_the_true_state_of_every_rule_at_every_step(
    tmp_path: Path, model_cache: Path
) -> None:
    """The demo against the local broker: every state message agrees with the event log at the frame
    that decided it; a subscriber joining mid-run and one joining after the run read retained states
    that are right; counts add up to the crossings the events report."""
    prefix = f"sw-{uuid.uuid4().hex[:10]}"
    raw = demo_config(packaged(SAMPLE_CLIP), tmp_path / "data", mqtt=True)
    raw["model"]["cache_dir"] = str(model_cache)
    raw["sinks"]["mqtt"] |= {
        "host": "127.0.0.1",
        "port": LOCAL_BROKER,
        "topic_prefix": prefix,
        "client_id": prefix,
    }
    config = tmp_path / "demo.toml"
    config.write_text(to_toml(raw))

    everything = Subscriber(LOCAL_BROKER, f"{prefix}/#", client_id=f"{prefix}-all")
    joined_mid_run: dict[str, bytes] = {}

    def join_late() -> None:
        if everything.wait_for(
            lambda s: b"ON" in s.payloads(f"{prefix}/site/rules/hardhat/state"), timeout=60
        ):
            joined_mid_run.update(retained(LOCAL_BROKER, f"{prefix}/site/rules/#", expect=8))

    late = threading.Thread(target=join_late)
    late.start()
    try:
        assert main(["run", "--config", str(config)]) == 0
        late.join(70)
        events = read_events(tmp_path / "data" / "events.jsonl")
        assert everything.wait_for(lambda s: s.payloads(f"{prefix}/availability")[-1:] == [b"offline"])
        messages = list(everything.messages)
    finally:
        everything.close()

    rules = ("hardhat", "restricted-area", "gate")
    attributes = defaultdict(list)
    for topic, payload, _ in messages:
        parts = topic.split("/")
        if parts[2:3] == ["rules"] and parts[-1] == "attributes":
            attributes[parts[3]].append(json.loads(payload))
    assert set(attributes) == set(rules)
    changes = 0
    for rule in rules:
        for state in attributes[rule]:
            assert set(state["alert_ids"]) == active_at(events, rule, state["ts"]), (rule, state)
            assert state["active"] == len(state["alert_ids"])
            changes += 1
    starts = sum(1 for e in events if e["type"] == "start")
    assert changes > starts  # every start and every end changed a state (the gate's come in one frame)

    # joined mid-run: every rule's state and attributes are there at once, retained, and true at their ts
    assert {t.removeprefix(f"{prefix}/site/rules/") for t in joined_mid_run} >= {
        f"{r}/{k}" for r in rules for k in ("state", "attributes")
    }
    for rule in rules:
        state = json.loads(joined_mid_run[f"{prefix}/site/rules/{rule}/attributes"])
        assert set(state["alert_ids"]) == active_at(events, rule, state["ts"])

    # after the run (an HA restart now): everything off, counts equal what the events say
    now = retained(LOCAL_BROKER, f"{prefix}/#", expect=12)
    for rule in rules:
        assert now[f"{prefix}/site/rules/{rule}/state"] == b"OFF"
        assert json.loads(now[f"{prefix}/site/rules/{rule}/attributes"])["active"] == 0
    counts = json.loads(now[f"{prefix}/site/rules/gate/count"])
    crossings = [e for e in events if e["rule"]["name"] == "gate" and e["type"] == "start"]
    assert crossings, "the demo's workers cross the gate"
    assert {k: counts[k] for k in ("in", "out")} == crossings[-1]["line"]["counts"]
    assert counts["in"] + counts["out"] == len(crossings) + counts["suppressed"]
    objects = json.loads(now[f"{prefix}/site/objects"])
    assert set(objects) == {"labels", "zones", "ts"} and "restricted" in objects["zones"]
    assert now[f"{prefix}/availability"] == b"offline"


# --- counts that survive -----------------------------------------------------------------------------

GATE = {"gate": {"points": [[0.5, 0.0], [0.5, 1.0]], "inside": "right"}}
COUNT = {"name": "door", "kind": "line_crossing", "line": "gate", "cooldown": 0.0}


def pacing_worker(site: Site, frames: int) -> None:
    """A worker pacing across the gate (x = 80 of 160 px) and back, 8 px a frame: in, then out, every
    20 frames."""
    for i in range(frames):
        phase = i % 20
        x = 40 + 8 * (phase if phase <= 10 else 20 - phase)
        site.detect("cam", i, (x - 10, 30, x + 10, 100, 0.9, "person"))


def final_counts(site: Site) -> dict[str, int]:
    crossings = [e for e in read_events(site.root / "out/events.jsonl") if e["type"] == "start"]
    return dict(crossings[-1]["line"]["counts"])


def test_line_counts_survive_a_restart(site: Site) -> None:
    pacing_worker(site, 60)
    video = site.video("cam", 60)
    site.config(
        [{"name": "cam", "url": str(video), "lines": GATE, "rules": [COUNT]}], state_file="out/state.sqlite"
    )
    assert site.run().rc == 0
    first = final_counts(site)
    assert first == {"in": 3, "out": 3}
    (site.root / "out/events.jsonl").unlink()
    assert site.run().rc == 0
    assert final_counts(site) == {"in": 6, "out": 6}  # went on counting from where it was


def test_line_counts_survive_a_reload_that_changes_the_camera_rules(tmp_path: Path) -> None:
    from sitewatch.daemon.detectors import load_detector
    from sitewatch.daemon.pipeline import Pipeline

    script = tmp_path / "script.jsonl"
    script.write_text('{"labels": ["person"]}\n')
    (tmp_path / "cam.mp4").write_bytes(b"\0")
    raw = {
        "model": {"backend": "scripted", "path": str(script)},
        "state_file": str(tmp_path / "state.sqlite"),
        "sinks": {"jsonl": {"enabled": False}, "snapshots": {"enabled": False}},
        "cameras": [{"name": "cam", "url": str(tmp_path / "cam.mp4"), "lines": GATE, "rules": [COUNT]}],
    }
    cfg = parse_config(raw, tmp_path)
    pipeline = Pipeline(cfg, load_detector(cfg))
    try:
        engine = pipeline.cameras["cam"].engine
        walk(engine, [40, 120, 40])  # in, out
        tally = pipeline.tallies[("cam", "door")]
        assert tally.counts == {"in": 1, "out": 1}
        zone = {"yard": ZoneConfig(points=[(0, 0), (1, 0), (1, 1)])}
        changed = cfg.cameras[0].model_copy(update={"zones": zone})
        assert pipeline.reconfigure([changed]) == ["camera cam: zones, lines or rules updated"]
        walk(pipeline.cameras["cam"].engine, [40, 120])  # a new engine: the same tally goes on
        assert pipeline.tallies[("cam", "door")].counts == {"in": 2, "out": 1}
    finally:
        pipeline.shutdown()
    saved = StateStore(tmp_path / "state.sqlite").load()
    assert saved.tallies[("cam", "door")].counts == {"in": 2, "out": 1}


def walk(engine: Any, xs: list[float], track: int = 7) -> None:
    for i, x in enumerate(xs):
        boxes = np.array([[x - 10, 30, x + 10, 100]], np.float32)
        tracks = Tracks(
            np.array([track]), boxes, np.array([0.9], np.float32), np.array(["person"]), np.array([0])
        )
        frame = Frame("cam", i, engine.last_ts + 0.1, np.zeros((120, 160, 3), np.uint8))
        engine.process(frame, Detections(boxes, tracks.confidence, tracks.label), tracks)


# --- the engine's state messages ---------------------------------------------------------------------


def engine_for(**camera: Any) -> Any:
    cam = CameraConfig.model_validate({"name": "cam", "url": "x.mp4", "background_at_start": False, **camera})
    return build_engine(cam, model="m", snapshots=False)


def test_states_are_emitted_on_change_only() -> None:
    zone = {"yard": {"points": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]}}
    rule = {
        "name": "in-yard",
        "kind": "zone_intrusion",
        "zone": "yard",
        "min_duration": 0.0,
        "clear_after": 0.0,
    }
    engine = engine_for(zones=zone, rules=[rule])
    assert [type(s) for s in engine.updates(0.0, everything=True)] == [RuleState]
    seen: list[tuple[float, bool]] = []
    for step in range(30):
        ts = 1.0 + step / 10
        present = 5 <= step < 15
        boxes = np.array([[40, 30, 60, 100]] if present else [], np.float32).reshape(-1, 4)
        n = len(boxes)
        tracks = Tracks(
            np.arange(1, n + 1), boxes, np.full(n, 0.9, np.float32), np.array(["person"] * n), np.arange(n)
        )
        engine.process(
            Frame("cam", step, ts, np.zeros((120, 160, 3), np.uint8)),
            Detections(boxes, tracks.confidence, tracks.label),
            tracks,
            () if present or step != 15 else (1,),
        )
        seen += [(s.ts, s.on) for s in engine.updates(ts) if isinstance(s, RuleState)]
    assert [on for _, on in seen] == [True, False]  # one message when it went on, one when it went off
    assert seen[0][0] == pytest.approx(1.5)


def test_object_counts_per_label_and_zone_are_published_at_most_twice_a_second() -> None:
    zone = {"left": {"points": [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]}}
    engine = engine_for(zones=zone)
    published: list[CameraObjects] = []
    for step in range(20):  # the count flickers every frame between 1 and 2 people
        n = 1 + step % 2
        boxes = np.array([[10, 30, 30, 100], [100, 30, 120, 100]][:n], np.float32)
        tracks = Tracks(
            np.arange(1, n + 1), boxes, np.full(n, 0.9, np.float32), np.array(["person"] * n), np.arange(n)
        )
        engine.process(
            Frame("cam", step, step / 10, np.zeros((120, 160, 3), np.uint8)),
            Detections(boxes, tracks.confidence, tracks.label),
            tracks,
        )
        published += [s for s in engine.updates(step / 10) if isinstance(s, CameraObjects)]
    assert 3 <= len(published) <= 5  # 2 s of flicker: about one update per 0.5 s, not 20
    assert published[0].labels == {"person": 1} and published[0].zones == {"left": {"person": 1}}
    assert any(p.labels == {"person": 2} and p.zones == {"left": {"person": 1}} for p in published)


def test_an_unreadable_state_file_is_moved_aside_and_counting_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = StateStore(path)
    assert store.load().tallies == {}
    store.save(RuleState("cam", "door", "line_crossing", (), 0.0, counts={"in": 3, "out": 1}, suppressed=0))
    store.close()
    assert StateStore(path).load().tallies[("cam", "door")].counts == {"in": 3, "out": 1}
    aside = list(tmp_path.glob("state.sqlite.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_camera_status_writes_the_state_file_only_when_it_is_switched_on_or_off(tmp_path: Path) -> None:
    """Statuses come every 30 s per camera; the file (often an SD card) is synced for changes only, and
    a camera switched off by a command stays off across a restart."""
    path = tmp_path / "state.sqlite"
    sink = StateSink(StateStore(path))
    writes: list[str] = []
    sink.store._db.set_trace_callback(lambda sql: writes.append(sql) if "overrides" in sql else None)

    def status(camera: str, state: CameraState) -> None:
        sink.write_status(CameraStatus(camera, state.value, 5.0, 0.0))

    for _ in range(10):
        status("gate", CameraState.ONLINE)
    assert len(writes) == 1  # the first says the camera is on; nine repeats write nothing
    status("gate", CameraState.DISABLED)
    for _ in range(10):
        status("gate", CameraState.DISABLED)
    assert len(writes) == 2
    sink.close()

    store = StateStore(path)
    assert store.load().overrides[("gate", "")].enabled is False
    store._db.set_trace_callback(lambda sql: writes.append(sql) if "overrides" in sql else None)
    writes.clear()
    StateSink(store).write_status(CameraStatus("gate", CameraState.DISABLED.value, 0.0, 0.0))
    assert writes == []  # the file already says so
    StateSink(store).write_status(CameraStatus("gate", CameraState.RECONNECTING.value, 0.0, 0.0))
    assert len(writes) == 1 and ("gate", "") not in store.load().overrides
