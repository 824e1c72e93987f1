"""Sinks run on their own threads: a stuck sink never blocks publishing; nothing escapes the snapshot dir."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sitewatch.daemon.events import BBox, Event, EventMessage, RuleRef, SnapshotRequest, new_id
from sitewatch.daemon.types import Tracks
from sitewatch.sinks import EventBus, JsonlSink, Sink, SnapshotSink


def message(relpath: str = "cam/a.jpg") -> EventMessage:
    event = Event(
        new_id(),
        new_id(),
        "start",
        RuleRef("r", "ppe"),
        "cam",
        1,
        "person",
        0.9,
        BBox.from_pixels((1, 1, 5, 5), (10, 10)),
        None,
        None,
        None,
        0.0,
        None,
        0.0,
        relpath,
        None,
        "m",
        "h",
    )
    snap = SnapshotRequest(
        np.zeros((10, 10, 3), np.uint8), Tracks.empty(), {}, {}, (1, 1, 5, 5), "cap", relpath
    )
    return EventMessage(event, snap)


class GateSink(Sink):
    name = "gate"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.got: list[str] = []

    def write(self, m: EventMessage) -> None:
        self.gate.wait(10)
        self.got.append(m.event.event_id)


def test_a_stuck_sink_does_not_block_publishing_and_still_gets_everything(tmp_path: Path) -> None:
    slow = GateSink()
    jsonl = JsonlSink(tmp_path / "e.jsonl", fsync=False)
    bus = EventBus([slow, jsonl])
    messages = [message() for _ in range(200)]
    for m in messages:
        bus.publish(m)  # returns although the slow sink is stuck on its first write
    slow.gate.set()
    assert bus.close(timeout=10)
    assert slow.got == [m.event.event_id for m in messages]
    assert len((tmp_path / "e.jsonl").read_text().splitlines()) == 200


def test_a_sink_failing_with_io_errors_keeps_its_events_and_delivers_them_once_it_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Flaky(Sink):
        name = "flaky"

        def __init__(self) -> None:
            self.broken = True
            self.got: list[str] = []

        def write(self, m: EventMessage) -> None:
            if self.broken:
                raise OSError(28, "No space left on device")
            self.got.append(m.event.event_id)

    caplog.set_level(logging.INFO)
    flaky = Flaky()
    bus = EventBus([flaky, JsonlSink(tmp_path / "e.jsonl", fsync=False)])
    messages = [message() for _ in range(50)]
    for m in messages:
        bus.publish(m)
    deadline = time.monotonic() + 5
    while bus.workers[0].errors < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bus.workers[0].degraded and bus.workers[1].written == 50  # the other sink is not held up
    flaky.broken = False
    assert bus.close(timeout=10)
    assert flaky.got == [m.event.event_id for m in messages]  # all of them, in order, once
    assert bus.workers[0].dropped == 0 and not bus.workers[0].degraded
    failures = [r for r in caplog.records if "sink flaky: cannot write" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.ERROR, logging.WARNING]  # once, then a count
    assert "2 more times" in failures[1].getMessage()
    assert any("sink flaky: writing again" in r.getMessage() for r in caplog.records)


def test_a_sink_still_failing_at_shutdown_counts_what_it_lost(tmp_path: Path) -> None:
    class Broken(Sink):
        name = "broken"

        def write(self, m: EventMessage) -> None:
            raise OSError(30, "Read-only file system")

    bus = EventBus([Broken(), JsonlSink(tmp_path / "e.jsonl", fsync=False)])
    for _ in range(3):
        bus.publish(message())
    assert bus.close(timeout=1.0)
    assert bus.workers[0].dropped == 3 and bus.workers[1].written == 3


def test_a_message_a_sink_cannot_take_is_skipped_and_counted(tmp_path: Path) -> None:
    class Picky(Sink):
        name = "picky"

        def __init__(self) -> None:
            self.got: list[str] = []

        def write(self, m: EventMessage) -> None:
            if not self.got:
                self.got.append("refused")
                raise ValueError("not this one")
            self.got.append(m.event.event_id)

    picky = Picky()
    bus = EventBus([picky])
    messages = [message() for _ in range(3)]
    for m in messages:
        bus.publish(m)
    assert bus.close(timeout=5)
    assert picky.got == ["refused", messages[1].event.event_id, messages[2].event.event_id]
    assert bus.workers[0].dropped == 1 and bus.workers[0].errors == 1


@pytest.mark.parametrize("relpath", ["../escape.jpg", "/etc/x.jpg", "cam/../../x.jpg"])
def test_snapshot_paths_cannot_escape_the_directory(tmp_path: Path, relpath: str) -> None:
    sink = SnapshotSink(tmp_path / "snaps")
    with pytest.raises(ValueError, match="escapes"):
        sink.write(message(relpath))


def test_snapshot_is_a_decodable_jpeg(tmp_path: Path) -> None:
    import cv2

    SnapshotSink(tmp_path).write(message("cam/a.jpg"))
    img = cv2.imread(str(tmp_path / "cam/a.jpg"))
    assert img is not None and img.shape == (10, 10, 3)
    assert not list(tmp_path.rglob("*.tmp"))
