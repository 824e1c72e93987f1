"""One supervisor policy for every worker thread: a crash is logged once, counted, and the worker
restarted with backoff; handled faults show as degraded; a worker that keeps crashing past its bound is
hopeless (the service then stops the watchdog). Repeating errors cost one log line a minute."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from helpers import wait_until

from sitewatch.daemon.linelog import LineLog
from sitewatch.daemon.logs import Throttle
from sitewatch.daemon.supervisor import SupervisedThread, Supervisor, WorkerState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_crashing_worker_is_restarted_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    sup = Supervisor()
    runs: list[int] = []
    done = threading.Event()

    def body(_w: SupervisedThread) -> None:
        runs.append(1)
        if len(runs) <= 3:
            raise RuntimeError("boom")
        done.set()

    worker = SupervisedThread("flaky", body, supervisor_=sup)
    worker.backoff.start = worker.backoff._next = 0.01
    worker.start()
    assert done.wait(5)
    worker.join(5)
    assert len(runs) == 4 and sup.restarts["flaky"] == 3
    crashes = [r for r in caplog.records if "worker flaky crashed" in r.getMessage()]
    assert crashes[0].exc_info is not None  # the first one with its traceback...
    assert len(crashes) == 1  # ...and the repeats only as a count, at most once a minute
    assert worker.worker_state is WorkerState.FINISHED


def test_a_worker_that_keeps_crashing_becomes_hopeless_after_the_bound() -> None:
    clock = Clock()
    sup = Supervisor(give_up_after=300, clock=clock)
    release = threading.Event()

    def body(w: SupervisedThread) -> None:
        if not release.is_set():
            raise OSError("still broken")
        w.stop_event.wait(10)

    worker = SupervisedThread("stuck", body, supervisor_=sup)
    worker.backoff.start = worker.backoff._next = worker.backoff.maximum = 0.01
    worker.start()
    assert wait_until(lambda: sup.restarts["stuck"] >= 2)
    assert sup.problems() and "stuck restarting" in sup.problems()[0]
    assert sup.hopeless() == []
    clock.now += 301
    assert wait_until(lambda: sup.restarts["stuck"] >= 4)
    assert sup.hopeless() and "stuck has kept failing" in sup.hopeless()[0]
    release.set()  # it recovers: after a healthy minute the failure is over
    assert wait_until(lambda: worker.worker_state is WorkerState.RUNNING)
    clock.now += 61
    assert sup.hopeless() == [] and sup.problems() == []
    worker.stop_event.set()
    worker.join(5)


def test_degraded_is_shown_until_recovered_and_never_hopeless() -> None:
    clock = Clock()
    sup = Supervisor(give_up_after=10, clock=clock)
    ready, go = threading.Event(), threading.Event()

    def body(w: SupervisedThread) -> None:
        w.degraded("cannot write: disk full")
        ready.set()
        go.wait(5)
        w.recovered()
        w.stop_event.wait(5)

    worker = SupervisedThread("sink-x", body, supervisor_=sup)
    worker.start()
    assert ready.wait(5)
    clock.now += 3600
    assert sup.problems() == ["sink-x degraded for 3600 s: cannot write: disk full"]
    assert sup.hopeless() == []  # restarting the process would not empty the disk
    go.set()
    assert wait_until(lambda: not sup.problems())
    worker.stop_event.set()
    worker.join(5)
    assert sup.reports() == []  # finished workers leave the registry


def test_a_repeating_error_is_logged_first_then_counted_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    throttle = Throttle(logging.getLogger("test.throttle"), interval=60, clock=clock)
    for _ in range(600):  # ten per second for a minute
        throttle.log(logging.ERROR, "sink x: cannot write", "disk full")
        clock.now += 0.1
    clock.now = 1060.0
    throttle.log(logging.ERROR, "sink x: cannot write", "disk full")
    throttle.clear("sink x: cannot write", recovered="sink x: writing again")
    lines = [r.getMessage() for r in caplog.records if r.name == "test.throttle"]
    assert lines == [
        "sink x: cannot write: disk full",
        "sink x: cannot write: disk full (600 times in the last 60 s)",
        "sink x: writing again",
    ]
    throttle.log(logging.ERROR, "sink x: cannot write", "again")  # a new episode is logged at once
    assert caplog.records[-1].getMessage() == "sink x: cannot write: again"


def test_a_line_log_cuts_a_torn_last_line_so_a_retried_line_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = LineLog(path)
    log.append(b'{"a": 1}\n')
    with open(path, "ab") as fh:
        fh.write(b'{"b": 2, "tor')  # what a write cut short by a full disk or a power cut leaves
    log.append(b'{"b": 2}\n')
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    path.write_bytes(b"no newline at all")
    log.append(b"x\n")
    assert path.read_bytes() == b"x\n"
