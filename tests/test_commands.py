"""Operator commands over MQTT (daemon/commands.py): switch a camera or rule, snooze, acknowledge — each
confirmed on the state topics and kept across a restart; a rejected one answered on ``<prefix>/errors``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.publish as publish
import pytest
from conftest import Site
from helpers import local_mqtt, read_events, start_daemon, terminate, wait_for_line
from mosquitto import Subscriber

from sitewatch.daemon.commands import ALL, MAX_SNOOZE_MINUTES, Command, CommandError, parse

LOCAL_BROKER = 1883
NOW = 1_800_000_000.0
ALERT = "01a2319f-65eb-7000-8bf3-92da13146ccd"

PARSES = [
    ("p/gate/set", b"OFF", Command("gate", None, "disable")),
    ("p/gate/set", b" on\n", Command("gate", None, "enable")),
    ("p/gate/rules/hardhat/set", b"OFF", Command("gate", "hardhat", "disable")),
    ("p/gate/rules/hardhat/snooze/set", b"15", Command("gate", "hardhat", "snooze", until=NOW + 900)),
    ("p/gate/rules/hardhat/snooze/set", b"0", Command("gate", "hardhat", "snooze", until=None)),
    (
        "p/gate/rules/hardhat/acknowledge/set",
        ALERT.encode(),
        Command("gate", "hardhat", "acknowledge", alert_id=ALERT),
    ),
    (
        "p/gate/rules/hardhat/acknowledge/set",
        b"PRESS",
        Command("gate", "hardhat", "acknowledge", alert_id=ALL),
    ),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), PARSES)
def test_commands_parse(topic: str, payload: bytes, expected: Command) -> None:
    got = parse("p", topic, payload, now=NOW)
    assert (got.camera, got.rule, got.action, got.until, got.alert_id) == (
        expected.camera, expected.rule, expected.action, expected.until, expected.alert_id,
    )  # fmt: skip


REJECTS = [
    ("p/gate/set", b"maybe", "expected ON or OFF, not 'maybe'"),
    ("p/gate/rules/hardhat/snooze/set", b"soon", "snooze takes minutes (a number), not 'soon'"),
    ("p/gate/rules/hardhat/snooze/set", b"-5", "snooze minutes must be between 0 and"),
    (
        "p/gate/rules/hardhat/snooze/set",
        str(MAX_SNOOZE_MINUTES + 1).encode(),
        "snooze minutes must be between",
    ),
    ("p/gate/rules/hardhat/snooze/set", b"nan", "snooze minutes must be between"),
    ("p/gate/rules/hardhat/acknowledge/set", b"the red one", "acknowledge takes an alert id"),
    ("p/gate/rules/hardhat/reboot/set", b"1", "unknown command 'reboot'"),
    ("p/gate/status/set", b"ON", "expected <camera>/set or <camera>/rules/<rule>"),
    ("p/gate/set", b"\xff\xfe", "the payload is not UTF-8 text"),
]


@pytest.mark.parametrize(("topic", "payload", "message"), REJECTS)
def test_bad_commands_say_why(topic: str, payload: bytes, message: str) -> None:
    with pytest.raises(CommandError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse("p", topic, payload, now=NOW)


# --- against the daemon and the local broker ---------------------------------------------------------


def send(prefix: str, topic: str, payload: str) -> None:
    publish.single(f"{prefix}/{topic}", payload, qos=1, hostname="127.0.0.1", port=LOCAL_BROKER)


def commanded_site(site: Site, prefix: str) -> Path:
    """A worker without a hard hat, always there: the hard-hat rule is ON unless commanded otherwise."""
    for i in range(3000):
        site.detect("gate", i, (40.0, 20.0, 80.0, 110.0, 0.9, "person"))
    video = site.video("gate", 20)
    rule = {"name": "hardhat", "kind": "ppe", "min_duration": 0.3, "clear_after": 0.2, "cooldown": 0.0}
    return site.config(
        [{"name": "gate", "url": str(video), "realtime": True, "loop": True, "rules": [rule]}],
        state_file="out/state.sqlite",
        sinks={
            "jsonl": {"path": "out/events.jsonl", "fsync": False},
            "snapshots": {"enabled": False},
            "mqtt": local_mqtt(prefix, LOCAL_BROKER),
        },
    )


def latest(sub: Subscriber, topic: str) -> Any:
    payloads = sub.payloads(topic)
    return (
        None
        if not payloads
        else (payloads[-1] if topic.endswith(("/state", "/errors")) else json.loads(payloads[-1]))
    )


def since_restart(sub: Subscriber, prefix: str, rule: str) -> list[tuple[str, bytes]]:
    """The rule's attributes and the camera's status published by the second daemon: after the second
    'online' (messages of the first one may still be arriving when it has exited)."""
    onlines = [
        i for i, (t, p, _) in enumerate(sub.messages) if t == f"{prefix}/availability" and p == b"online"
    ]
    if len(onlines) < 2:
        return []
    wanted = (f"{rule}/attributes", f"{prefix}/gate/status")
    return [(t, p) for t, p, _ in sub.messages[onlines[1] :] if t in wanted]


def test_switch_snooze_and_acknowledge_are_confirmed_on_the_state_topics(site: Site) -> None:
    prefix = f"sw-{uuid.uuid4().hex[:10]}"
    config = commanded_site(site, prefix)
    rule = f"{prefix}/gate/rules/hardhat"
    sub = Subscriber(LOCAL_BROKER, f"{prefix}/#", client_id=f"{prefix}-watch")
    proc = start_daemon(config)
    events = site.root / "out/events.jsonl"
    try:
        assert sub.wait_for(lambda s: latest(s, f"{rule}/state") == b"ON", timeout=30), (
            "the alert never started"
        )

        send(prefix, "gate/rules/hardhat/acknowledge/set", "all")
        assert sub.wait_for(
            lambda s: (a := latest(s, f"{rule}/attributes")) and a["acknowledged"] == a["alert_ids"] != []
        )

        send(prefix, "gate/rules/hardhat/set", "OFF")
        # attributes come first, then the state (HA sees current attributes when the state flips)
        assert sub.wait_for(
            lambda s: (
                latest(s, f"{rule}/attributes")["enabled"] is False and latest(s, f"{rule}/state") == b"OFF"
            )
        )
        assert wait_for_line(events, lambda e: e["reason"] == "disabled", timeout=10)

        send(prefix, "gate/rules/hardhat/set", "ON")
        assert sub.wait_for(
            lambda s: latest(s, f"{rule}/state") == b"ON" and latest(s, f"{rule}/attributes")["enabled"]
        )

        send(prefix, "gate/rules/hardhat/snooze/set", "30")
        assert sub.wait_for(lambda s: latest(s, f"{rule}/attributes")["snoozed_until"] is not None)
        assert sub.wait_for(lambda s: latest(s, f"{rule}/state") == b"OFF")
        assert wait_for_line(events, lambda e: e["reason"] == "snoozed", timeout=10)

        send(prefix, "gate/rules/nope/set", "OFF")
        send(prefix, "gate/rules/hardhat/snooze/set", "soon")
        assert sub.wait_for(lambda s: len(s.payloads(f"{prefix}/errors")) == 2)
        errors = [json.loads(p)["error"] for p in sub.payloads(f"{prefix}/errors")]
        assert any("camera gate has no rule 'nope' (rules: hardhat)" in e for e in errors)
        assert any("snooze takes minutes" in e for e in errors)

        send(prefix, "gate/set", "OFF")
        assert sub.wait_for(lambda s: latest(s, f"{prefix}/gate/status")["state"] == "disabled")
        out = terminate(proc)
        assert proc.returncode == 0, out
        assert "command from" in out and "rule hardhat on camera gate: disabled" in out

        # a restart keeps the operator's overrides: camera off, rule snoozed
        proc = start_daemon(config)
        restarted = sub.wait_for(lambda s: len(dict(since_restart(s, prefix, rule))) == 2, timeout=30)
        assert restarted, "the restarted daemon published no state"
        fresh = {t: p for t, p in since_restart(sub, prefix, rule)}
        assert json.loads(fresh[f"{rule}/attributes"])["snoozed_until"] is not None
        assert json.loads(fresh[f"{prefix}/gate/status"])["state"] == "disabled"
        send(prefix, "gate/rules/hardhat/snooze/set", "0")
        send(prefix, "gate/set", "ON")
        assert sub.wait_for(lambda s: latest(s, f"{prefix}/gate/status")["state"] == "online", timeout=30)
        assert sub.wait_for(lambda s: latest(s, f"{rule}/state") == b"ON", timeout=30)
        attributes = latest(sub, f"{rule}/attributes")
        assert attributes["snoozed_until"] is None and attributes["enabled"] is True
    finally:
        terminate(proc)
        sub.close()
    reasons = [e["reason"] for e in read_events(events) if e["type"] == "end"]
    assert {"disabled", "snoozed"} <= set(reasons)
