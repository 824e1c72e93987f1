"""Home Assistant MQTT discovery (sinks/homeassistant.py): every payload passes Home Assistant's own
discovery schemas, its templates read what the daemon publishes, and entities of cameras and rules that
go away — on a reload, or while the daemon was down — are removed from the broker."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.publish as publish
from conftest import Site
from ha_judge import judge
from helpers import local_mqtt, start_daemon, terminate
from mosquitto import Subscriber

from sitewatch.daemon.config import Config, parse_config
from sitewatch.daemon.events import CameraStatus
from sitewatch.daemon.state import CameraObjects, RuleState
from sitewatch.sinks.homeassistant import entities

LOCAL_BROKER = 1883
ZONES = {"yard": {"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}
LINES = {
    "gate": {"points": [[0.5, 0.1], [0.5, 0.9]], "inside": "right"},
    "road": {"points": [[0.1, 0.5], [0.9, 0.5]]},
}
RULES = [
    {"name": "hardhat", "kind": "ppe"},
    {"name": "yard", "kind": "zone_intrusion", "zone": "yard"},
    {"name": "loiter", "kind": "dwell", "zone": "yard", "max_seconds": 30},
    {"name": "crowd", "kind": "crowd", "zone": "yard", "min_count": 4},
    {"name": "gate", "kind": "line_crossing", "line": "gate"},
    {"name": "road", "kind": "line_crossing", "line": "road", "labels": ["car", "person"]},
]


def every_kind(tmp_path: Path) -> Config:
    script = tmp_path / "script.jsonl"
    script.write_text('{"labels": ["person", "hardhat", "head", "car"]}\n')
    (tmp_path / "a.mp4").write_bytes(b"\0")
    cameras = [
        {"name": "north.gate", "url": str(tmp_path / "a.mp4"), "zones": ZONES, "lines": LINES, "rules": RULES}
    ]
    return parse_config({"model": {"backend": "scripted", "path": str(script)}, "cameras": cameras}, tmp_path)


def test_every_discovery_payload_passes_home_assistants_own_schema(tmp_path: Path) -> None:
    found = entities(every_kind(tmp_path), prefix="site1", node_id="sitewatch-box1", snapshots=True)
    items = [
        {"component": e.component, "topic": e.topic("homeassistant", "sitewatch-box1"), "config": e.config}
        for e in found
    ]
    verdicts = judge(items)
    assert [p for v in verdicts for p in v["problems"]] == []
    kinds = sorted((e.component, e.object_id) for e in found)
    assert ("binary_sensor", "north_gate_hardhat") in kinds and ("image", "north_gate_snapshot") in kinds
    assert ("sensor", "north_gate_gate_in") in kinds and ("sensor", "north_gate_road_top_to_bottom") in kinds
    assert ("button", "north_gate_crowd_acknowledge") in kinds and ("switch", "north_gate_watching") in kinds
    assert len({e.config["unique_id"] for e in found}) == len(found)  # HA drops entities with a taken id
    counters = [e.config for e in found if e.config.get("state_class") == "total_increasing"]
    assert len(counters) == 4  # two directions per line


def test_the_templates_read_what_the_daemon_publishes(tmp_path: Path) -> None:
    found = {
        e.object_id: e.config
        for e in entities(every_kind(tmp_path), prefix="p", node_id="n", snapshots=False)
    }
    online = CameraStatus("north.gate", "online", 9.98, 0.0).to_json()
    disabled = CameraStatus("north.gate", "disabled", 0.0, 0.0).to_json()
    state = RuleState(
        "north.gate",
        "gate",
        "line_crossing",
        (),
        0.0,
        enabled=False,
        counts={"in": 12, "out": 9},
        suppressed=1,
    )
    objects = CameraObjects("north.gate", {"person": 3, "car": 1}, {"yard": {"person": 2}}, 0.0).to_json()
    cases = [
        ("north_gate_state", online, "online"),
        ("north_gate_fps", online, "9.98"),
        ("north_gate_watching", online, "ON"),
        ("north_gate_watching", disabled, "OFF"),
        ("north_gate_gate_enabled", json.dumps(state.attributes()), "OFF"),
        ("north_gate_gate_in", json.dumps(state.count_payload()), "12"),
        ("north_gate_gate_out", json.dumps(state.count_payload()), "9"),
        ("north_gate_person_count", objects, "3"),
        ("north_gate_car_count", objects, "1"),
        ("north_gate_yard_person_count", objects, "2"),
        ("north_gate_yard_car_count", objects, "0"),
    ]
    items = [
        {
            "component": "sensor",
            "topic": "homeassistant/sensor/n/x/config",
            "config": found[oid],
            "samples": {"value_template": payload},
        }
        for oid, payload, _ in cases
    ]
    got = [v["rendered"]["value_template"] for v in judge(items)]
    assert got == [want for _, _, want in cases]


# --- entities come and go with the config, on the real broker -----------------------------------------


def discovery_config(site: Site, prefix: str, cameras: list[dict[str, Any]]) -> Path:
    for i in range(600):
        site.detect("a", i, (40.0, 20.0, 80.0, 110.0, 0.9, "person"))
    return site.config(
        cameras,
        state_file="out/state.sqlite",
        sinks={
            "jsonl": {"path": "out/events.jsonl", "fsync": False},
            "snapshots": {"enabled": False},
            "mqtt": local_mqtt(prefix, LOCAL_BROKER, discovery_prefix=f"{prefix}-ha"),
        },
    )


def retained_now(topic: str) -> dict[str, bytes]:
    sub = Subscriber(LOCAL_BROKER, topic, client_id=f"late-{uuid.uuid4().hex[:8]}")
    time.sleep(1.0)  # retained messages come at once after the subscription
    sub.close()
    return {t: p for t, p, retained in sub.messages if retained and p}


def test_entities_of_a_removed_camera_or_rule_are_cleared_on_reload_and_on_restart(site: Site) -> None:
    prefix = f"sw-{uuid.uuid4().hex[:10]}"
    video = site.video("a", 20)
    a = {"name": "a", "url": str(video), "realtime": True, "loop": True, "zones": ZONES, "rules": RULES[:2]}
    b = {"name": "b", "url": str(video), "realtime": True, "loop": True, "rules": RULES[:1]}
    config = discovery_config(site, prefix, [a, b])
    everything = f"{prefix}-ha/#"

    def topics_of(camera: str, retained: dict[str, bytes]) -> set[str]:
        return {t for t in retained if f"/{prefix}_{camera}_" in t or t.startswith(f"{prefix}/{camera}/")}

    proc = start_daemon(config)
    try:
        sub = Subscriber(LOCAL_BROKER, f"{prefix}/#", client_id=f"{prefix}-watch")
        assert sub.wait_for(lambda s: len(s.payloads(f"{prefix}/b/rules/hardhat/state")) > 0, timeout=30)
        sub.close()
        before = retained_now(everything) | retained_now(f"{prefix}/#")
        assert topics_of("b", before), "camera b has no discovery or state topics"
        assert f"{prefix}-ha/binary_sensor/{prefix}/a_yard/config" in before

        discovery_config(site, prefix, [a])  # camera b goes away: reload
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and topics_of(
            "b", retained_now(everything) | retained_now(f"{prefix}/#")
        ):
            time.sleep(0.5)
        after_reload = retained_now(everything) | retained_now(f"{prefix}/#")
        assert topics_of("b", after_reload) == set()
        assert topics_of("a", after_reload) == topics_of("a", before)  # camera a untouched
        terminate(proc)

        # while the daemon is down, rule "yard" is removed from camera a: the next start clears it
        discovery_config(site, prefix, [{**a, "rules": RULES[:1]}])
        proc = start_daemon(config)

        def yard_rule(topics: dict[str, bytes]) -> list[str]:
            ids = ("/a_yard/", "/a_yard_enabled/", "/a_yard_acknowledge/", "/rules/yard/")
            return sorted(t for t in topics if any(i in t for i in ids))

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and yard_rule(
            retained_now(everything) | retained_now(f"{prefix}/#")
        ):
            time.sleep(0.5)
        after_restart = retained_now(everything) | retained_now(f"{prefix}/#")
        assert yard_rule(before), "the rule had entities and state topics"
        assert yard_rule(after_restart) == []
        assert f"{prefix}-ha/sensor/{prefix}/a_yard_person_count/config" in after_restart  # the zone stays
        assert f"{prefix}-ha/binary_sensor/{prefix}/a_hardhat/config" in after_restart
    finally:
        terminate(proc)
    for topic in retained_now(everything) | retained_now(f"{prefix}/#"):  # leave the shared broker clean
        publish.single(topic, b"", retain=True, hostname="127.0.0.1", port=LOCAL_BROKER)
