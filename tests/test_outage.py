"""What the inference loop does while a (remote) inference backend does not answer: drop and count the
frames that needed detection, try again only after the backoff, say so once, recover on the first
answer (daemon/outage.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pytest

from sitewatch.daemon.backoff import Backoff
from sitewatch.daemon.detectors import Detector, InferenceUnavailable
from sitewatch.daemon.outage import InferenceOutage
from sitewatch.daemon.types import Detections, Frame


class FlakyServer(Detector):
    """Answers unless ``down``; counts the requests it was sent."""

    name = "flaky"
    labels = frozenset({"person"})

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        self.calls += 1
        if self.down:
            raise InferenceUnavailable("ConnectionRefusedError: [Errno 111] Connection refused")
        return [Detections.empty() for _ in frames]


def frames(*cameras: str) -> list[Frame]:
    return [Frame(c, 0, 0.0, np.zeros((4, 4, 3), np.uint8)) for c in cameras]


def test_a_dead_server_is_asked_once_per_backoff_and_its_frames_are_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr("sitewatch.daemon.outage.time.monotonic", lambda: now[0])
    server = FlakyServer()
    outage = InferenceOutage(backoff=Backoff(start=1.0, maximum=8.0, jitter=0.0))
    caplog.set_level(logging.INFO, "sitewatch.daemon.outage")

    done, results, lost = outage.detect(server, frames("a", "b"))
    assert len(done) == 2 and len(results) == 2 and not lost and outage.available

    server.down = True
    for _ in range(10):  # 10 batches over 5 s of a dead server
        batch = frames("a", "b")
        done, results, lost = outage.detect(server, batch)
        assert done == [] and results == [] and lost == {id(f) for f in batch}
        now[0] += 0.5
    assert server.calls == 1 + 3  # tried at 0 s, after 1 s and after 2 more s: not once per batch
    assert not outage.available and outage.dropped == {"a": 10, "b": 10}
    problem = outage.problem()
    assert problem and problem.startswith("inference_unavailable for 5 s: ConnectionRefusedError")
    assert "(20 frame(s) dropped)" in problem
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "inference_unavailable" in errors[0].getMessage()  # said once

    server.down = False
    now[0] += 8.0
    done, _, lost = outage.detect(server, frames("a"))
    assert done and not lost and outage.available and outage.problem() is None
    assert "inference available again after 13.0 s (20 frame(s) dropped meanwhile)" in caplog.text
    assert outage.outages == 1


def test_other_errors_are_the_pipelines_to_count() -> None:
    class Broken(FlakyServer):
        def detect(self, frames: Sequence[Frame]) -> list[Detections]:
            raise RuntimeError("a bug")

    outage = InferenceOutage()
    with pytest.raises(RuntimeError):
        outage.detect(Broken(), frames("a"))
    assert outage.available and not outage.dropped
