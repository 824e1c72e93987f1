"""The durable outbox: order, acknowledgement, bounds that count what they drop, survival of a restart."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from sitewatch.daemon.config import MqttSinkConfig
from sitewatch.sinks.mqtt import MqttSink
from sitewatch.sinks.outbox import Outbox


def test_messages_come_back_in_order_and_go_when_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    ids = [box.add("t", f"m{i}".encode(), 1) for i in range(5)]
    assert [m.payload for m in box.pending()] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert [m.id for m in box.pending(after=ids[2])] == ids[3:]
    done = [ids[0], ids[3]]
    box.delete_many(done)
    assert done == []
    assert [m.payload for m in box.pending()] == [b"m1", b"m2", b"m4"]
    assert box.size_bytes == 6


def test_the_outbox_survives_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.add("a/b", b"kept", 1, retain=True)
    del box  # no close: as after SIGKILL
    again = Outbox(tmp_path / "o.sqlite")
    (msg,) = again.pending()
    assert (msg.topic, msg.payload, msg.qos, msg.retain) == ("a/b", b"kept", 1, True)


def test_size_bound_drops_the_oldest_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=100)
    for i in range(10):
        box.add("t", bytes([i]) * 30, 1)
    assert [m.payload[0] for m in box.pending()] == [7, 8, 9]
    assert box.dropped == 7 and box.size_bytes == 90
    assert "dropped" in caplog.text and "byte limit" in caplog.text


def test_age_bound_drops_old_messages_and_counts_them(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_age_s=0.2)
    box.add("t", b"old", 1)
    time.sleep(0.3)
    box.add("t", b"new", 1)
    assert [m.payload for m in box.pending()] == [b"new"] and box.dropped == 1


def test_unknown_broker_host_is_one_clear_line_and_events_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = MqttSinkConfig(enabled=True, host="broker.invalid", outbox={"path": tmp_path / "o.sqlite"})  # type: ignore[arg-type]
    sink = MqttSink(cfg)
    deadline = time.monotonic() + 20
    while sink.connect_failures < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "MQTT" in r.getMessage()]
    assert len(errors) == 1  # repeated failures are not logged again at ERROR
    assert "cannot connect to broker.invalid:1883: unknown host" in errors[0].getMessage()
