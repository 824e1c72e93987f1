"""MQTT delivery against a real Mosquitto started by the tests: in order, retained availability and Last
Will, and nothing lost when the broker goes down, when the daemon is killed, or when credentials are
wrong."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import pytest
from conftest import Site
from helpers import read_events, start_daemon, wait_for_line
from mosquitto import Broker, Subscriber

from sitewatch.daemon.config import MqttSinkConfig, mqtt_password
from sitewatch.daemon.events import BBox, CameraStatus, Event, EventMessage, RuleRef, SnapshotRequest, new_id
from sitewatch.daemon.types import Tracks
from sitewatch.sinks.mqtt import MqttSink
from sitewatch.sinks.outbox import Outbox

PERSON = (40.0, 20.0, 80.0, 110.0, 0.9, "person")


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


def alerting_site(site: Site, seconds: float, *, fps: int = 10, cycle: float = 1.5) -> None:
    """A person without a hard hat who comes and goes: one start and one end per ``cycle`` seconds,
    for the first ``seconds`` seconds of a looping, real-time clip (nothing after)."""
    period = round(cycle * fps)
    for i in range(round(seconds * fps)):
        if i % period < period * 2 // 3:
            site.detect("gate", i, PERSON)


def mqtt_config(
    site: Site, port: int, *, loop: bool = True, outbox: str = "out/outbox.sqlite", **mqtt: Any
) -> Path:
    video = site.video("gate", 20)
    rule = {"name": "hardhat", "kind": "ppe", "min_duration": 0.3, "clear_after": 0.2, "cooldown": 0.0}
    return site.config(
        [{"name": "gate", "url": str(video), "realtime": True, "loop": loop, "rules": [rule]}],
        sinks={
            "jsonl": {"path": "out/events.jsonl", "fsync": False},
            "snapshots": {"dir": "out/snapshots"},
            "mqtt": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": port,
                "topic_prefix": "site1",
                "client_id": "sitewatch-test",
                "outbox": {"path": outbox},
                **mqtt,
            },
        },
        tracker={"lost_seconds": 0.3},
    )


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    return out


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


def test_events_arrive_in_order_with_retained_availability(
    site: Site, broker: Broker, event_schema: dict[str, Any]
) -> None:
    alerting_site(site, seconds=6)
    proc = start_daemon(mqtt_config(site, broker.port))
    sub = Subscriber(broker.port, "site1/#")
    try:
        assert sub.wait_for(lambda s: len(s.events()) >= 6), "no events over MQTT"
        watcher = Subscriber(broker.port, "site1/availability", client_id="late-joiner")
        assert watcher.wait_for(lambda s: s.payloads("site1/availability") == [b"online"])
        assert all(retained for t, _, retained in watcher.messages if t == "site1/availability")
        watcher.close()
        status = sub.wait_for(lambda s: s.payloads("site1/gate/status"))
        assert status and json.loads(sub.payloads("site1/gate/status")[-1])["state"] == "online"
        out = stop(proc)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    jsonl = read_events(site.root / "out/events.jsonl")
    assert sub.wait_for(lambda s: len(s.events()) == len(jsonl))
    received = sub.events()
    assert ids(received) == ids(jsonl)  # every event, in order
    for event in received:
        jsonschema.validate(event, event_schema)
    assert sub.wait_for(lambda s: s.payloads("site1/availability")[-1:] == [b"offline"])  # clean exit
    assert (
        len(sqlite3.connect(site.root / "out/outbox.sqlite").execute("SELECT * FROM outbox").fetchall()) == 0
    )
    sub.close()


def test_sigkill_leaves_the_last_will_offline_retained(site: Site, broker: Broker) -> None:
    alerting_site(site, seconds=2)
    proc = start_daemon(mqtt_config(site, broker.port))
    sub = Subscriber(broker.port, "site1/availability")
    try:
        assert sub.wait_for(lambda s: s.payloads("site1/availability")[-1:] == [b"online"])
        proc.kill()
        proc.communicate(timeout=10)
        assert sub.wait_for(lambda s: s.payloads("site1/availability")[-1:] == [b"offline"], timeout=10)
    finally:
        proc.kill()
        sub.close()
    late = Subscriber(broker.port, "site1/availability", client_id="late-joiner")
    assert late.wait_for(lambda s: s.payloads("site1/availability") == [b"offline"])  # retained
    late.close()


def test_broker_outage_loses_no_event(site: Site, broker: Broker) -> None:
    alerting_site(site, seconds=22)
    proc = start_daemon(mqtt_config(site, broker.port))
    sub = Subscriber(broker.port, "site1/+/events")
    jsonl_path = site.root / "out/events.jsonl"
    try:
        assert sub.wait_for(lambda s: len(s.events()) >= 2), "no events before the outage"
        broker.stop()
        down_from = len(read_events(jsonl_path))
        time.sleep(10)
        during = len(read_events(jsonl_path)) - down_from
        broker.start()
        time.sleep(14)  # the clip's events run out at 22 s
        out = stop(proc)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert during >= 4, "the daemon should have kept producing events while the broker was down"
    jsonl = read_events(jsonl_path)
    assert sub.wait_for(lambda s: set(ids(jsonl)) <= set(ids(s.events())), timeout=30), out
    received = ids(sub.events())
    assert sorted(set(received), key=received.index) == ids(jsonl)  # in order (duplicates allowed)
    assert "MQTT: disconnected" in out and "MQTT: connected" in out
    sub.close()


def test_daemon_killed_while_broker_down_delivers_after_restart(site: Site, broker: Broker) -> None:
    alerting_site(site, seconds=5)
    config = mqtt_config(site, broker.port)
    broker.stop()
    proc = start_daemon(config)
    jsonl_path = site.root / "out/events.jsonl"
    try:
        assert wait_for_line(jsonl_path, lambda e: e["type"] == "end", timeout=60)
        time.sleep(6)  # every event of the clip is written (they stop at 5 s)
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    jsonl = read_events(jsonl_path)
    assert len(jsonl) >= 4
    assert "cannot connect to 127.0.0.1" in out and "connection refused" in out
    broker.start()
    sub = Subscriber(broker.port, "site1/+/events")
    site.script_rows.clear()  # the second run sees nobody: only the first run's events are pending
    config = mqtt_config(site, broker.port)
    proc = start_daemon(config, "--duration", "4")
    try:
        assert sub.wait_for(lambda s: set(ids(jsonl)) <= set(ids(s.events())), timeout=30)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
        sub.close()
    received = ids(sub.events())
    assert sorted(set(received), key=received.index)[: len(jsonl)] == ids(jsonl)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Any:
    """Mosquitto with a CA-signed server certificate (made here with openssl) and a password file."""
    certs = tmp_path / "certs"
    certs.mkdir()

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True)

    ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=sitewatch test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (certs / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    )
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "site", "s3cret-Pa55"], check=True)
    b = Broker(
        tmp_path / "broker",
        tls={"cafile": certs / "ca.crt", "certfile": certs / "server.crt", "keyfile": certs / "server.key"},
        password_file=passwd,
    ).start()
    yield b, certs / "ca.crt"
    b.stop()


def test_tls_with_password_delivers_and_a_wrong_password_loses_nothing(site: Site, tls_broker: Any) -> None:
    broker, ca = tls_broker
    alerting_site(site, seconds=3)
    tls = {"enabled": True, "ca_file": str(ca)}
    config = mqtt_config(site, broker.port, loop=False, username="site", password_env="MQTT_PW", tls=tls)

    proc = start_daemon(config, env={"MQTT_PW": "wrong-Pa55word"})
    out, _ = proc.communicate(timeout=60)  # the clip ends after 2 s of real time
    assert proc.returncode == 0
    assert "refused the connection: Not authorized" in out or "Bad user name or password" in out
    assert "wrong-Pa55word" not in out
    jsonl = read_events(site.root / "out/events.jsonl")
    assert len(jsonl) >= 2
    with sqlite3.connect(site.root / "out/outbox.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == len(jsonl)  # all kept

    import ssl as _ssl

    sub = Subscriber(
        broker.port,
        "site1/+/events",
        auth=("site", "s3cret-Pa55"),
        ca_certs=str(ca),
        cert_reqs=_ssl.CERT_REQUIRED,
    )
    site.script_rows.clear()
    config = mqtt_config(site, broker.port, username="site", password_env="MQTT_PW", tls=tls)
    proc = start_daemon(config, "--duration", "4", env={"MQTT_PW": "s3cret-Pa55"})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "MQTT: connected to 127.0.0.1" in out and "s3cret-Pa55" not in out
    assert sub.wait_for(lambda s: set(ids(jsonl)) <= set(ids(s.events())))
    sub.close()


def sink_for(port: int, tmp: Path, **cfg: Any) -> MqttSink:
    config = MqttSinkConfig(
        enabled=True, host="127.0.0.1", port=port, topic_prefix="site1",
        outbox={"path": tmp / "outbox.sqlite"}, **cfg,  # type: ignore[arg-type]
    )  # fmt: skip
    return MqttSink(config)


def message(camera: str = "gate") -> EventMessage:
    ev = Event(new_id(), new_id(), "start", RuleRef("hardhat", "ppe"), camera, 3, "person", 0.9,
               BBox.from_pixels((10, 20, 60, 120), (160, 120)), None, None, None, 1.0, None, 2.0,
               f"{camera}/a.jpg", None, "m.pt", "h")  # fmt: skip
    snap = SnapshotRequest(
        np.full((120, 160, 3), 90, np.uint8), Tracks.empty(), {}, {}, (10, 20, 60, 120), "x", "a"
    )
    return EventMessage(ev, snap)


def test_mqtt_5_delivers_events_status_and_a_retained_snapshot(tmp_path: Path, broker: Broker) -> None:
    sub = Subscriber(broker.port, "site1/#")
    sink = sink_for(broker.port, tmp_path, protocol="5", snapshots=True)
    sent = [message() for _ in range(3)]
    for m in sent:
        sink.write(m)
    sink.write_status(CameraStatus("gate", "online", 9.9, 0.0))
    assert sub.wait_for(lambda s: len(s.events()) == 3 and s.payloads("site1/gate/snapshot"))
    sink.close()
    assert [e["event_id"] for e in sub.events()] == [m.event.event_id for m in sent]
    assert cv2.imdecode(np.frombuffer(sub.payloads("site1/gate/snapshot")[-1], np.uint8), 1).shape == (
        120,
        160,
        3,
    )
    assert json.loads(sub.payloads("site1/gate/status")[-1])["fps"] == 9.9
    sub.close()


# paho-mqtt 2.x does not close its TLS socket when the handshake fails in connect(); the garbage
# collector closes it, and the ResourceWarning it raises there is paho's, not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_untrusted_broker_certificate_is_one_clear_error(
    tmp_path: Path, tls_broker: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, _ca = tls_broker  # signed by the test's own CA, which the system does not trust
    monkeypatch.setenv("MQTT_TEST_PW", "s3cret-Pa55")
    sink = sink_for(
        broker.port, tmp_path, tls={"enabled": True}, username="site", password_env="MQTT_TEST_PW"
    )
    sink.write(message())
    deadline = time.monotonic() + 20
    while sink.connect_failures < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.close()
    assert "TLS certificate verification failed" in caplog.text
    assert len(Outbox(tmp_path / "outbox.sqlite")) == 1  # kept for later


@pytest.mark.parametrize("source", ["env", "file", "credential"])
def test_the_password_comes_from_env_file_or_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    (tmp_path / "pw").write_text("from-a-file\n")
    (tmp_path / "mqtt-password").write_text("from-a-credential\n")
    monkeypatch.setenv("MQTT_PW", "from-the-env")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    key = {"env": "password_env", "file": "password_file", "credential": "password_credential"}[source]
    value = {"env": "MQTT_PW", "file": str(tmp_path / "pw"), "credential": "mqtt-password"}[source]
    cfg = MqttSinkConfig(username="u", **{key: value})  # type: ignore[arg-type]
    assert (
        mqtt_password(cfg)
        == {"env": "from-the-env", "file": "from-a-file", "credential": "from-a-credential"}[source]
    )
