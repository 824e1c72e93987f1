"""The sink interface, and the worker that runs each sink on its own supervised thread.

The inference thread hands events to ``EventBus.publish``, which never blocks: each sink has a bounded
queue and a thread of its own, so a slow disk or network delays only that sink. A sink whose queue is
full drops the message and counts and logs it (it would otherwise stall detection); the queues are sized
far above any plausible alert rate.

A write that fails with an I/O error (``OSError``, SQLite's ``OperationalError``: a full or read-only
disk) is *retried*, with the shared backoff, until it succeeds: the event is kept, later events wait
behind it in order, the sink shows as degraded in ``/readyz``, and the error is logged once and then
counted once a minute. Any other exception means this message cannot be written (a bug, or data the
sink refuses): it is logged with its traceback, counted, and skipped. At shutdown a sink that is still
failing gets until the close timeout; what it could not write then is counted and logged as lost.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from sitewatch.daemon.backoff import Backoff
from sitewatch.daemon.commands import Command, CommandReply
from sitewatch.daemon.config import Config
from sitewatch.daemon.events import CameraStatus, EventMessage
from sitewatch.daemon.logs import Throttle
from sitewatch.daemon.state import CameraObjects, RuleState, StateMessage
from sitewatch.daemon.supervisor import SupervisedThread

log = logging.getLogger(__name__)

Item = EventMessage | CameraStatus | RuleState | CameraObjects | CommandReply
"""What a sink worker delivers: events, statuses and states, answers to commands."""

TRANSIENT_ERRORS = (OSError, sqlite3.OperationalError)
"""Write errors worth retrying: they come from the disk or the network, not from the message."""


class Sink(ABC):
    name: str

    @abstractmethod
    def write(self, message: EventMessage) -> None:
        """Deliver one message; raise on failure (an I/O error is retried, anything else skips it)."""

    def write_status(self, status: CameraStatus) -> None:  # noqa: B027 - most sinks ignore statuses
        """A camera changed state (or its periodic status is due)."""

    def write_state(self, state: StateMessage) -> None:  # noqa: B027 - most sinks ignore states
        """A rule's state or a camera's object counts changed (daemon/state.py)."""

    def write_reply(self, reply: CommandReply) -> None:  # noqa: B027 - only sinks that take commands
        """A command this sink received was rejected after parsing (unknown rule, alert not active)."""

    def describe(self, config: Config) -> None:  # noqa: B027 - most sinks need not know the site
        """The configured cameras and rules: at start and after every reload."""

    def listen(self, handler: Callable[[Command], None]) -> None:  # noqa: B027 - most take no commands
        """Sinks that receive operator commands (MQTT) pass each parsed command to ``handler``."""

    def close(self) -> None:  # noqa: B027 - sinks without resources need no close
        """Flush and release resources; called once, after the last write."""


class SinkWorker:
    def __init__(self, sink: Sink, capacity: int = 10_000) -> None:
        self.sink = sink
        self.errors = 0
        """Failed write attempts (each retry of a failing write counts)."""
        self.dropped = 0
        """Events lost: the queue was full, the message could not be written, or shutdown came first."""
        self.written = 0
        self._queue: queue.Queue[Item] = queue.Queue(capacity)
        self._current: Item | None = None  # taken, not yet written (kept across a restart)
        self._closing = threading.Event()
        self._wake = threading.Event()
        self._close_deadline = float("inf")
        self._throttle = Throttle(log)
        self._failing = ""
        self._thread = SupervisedThread(f"sink-{sink.name}", self._run)
        self._thread.start()

    @property
    def degraded(self) -> bool:
        return bool(self._failing)

    def submit(self, item: Item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            what = f"event {item.event.event_id}" if isinstance(item, EventMessage) else type(item).__name__
            self._throttle.log(logging.ERROR, f"sink {self.sink.name}: queue full, dropping events", what)

    def pending(self) -> int:
        return self._queue.qsize() + (self._current is not None)

    def _run(self, worker: SupervisedThread) -> None:
        while True:
            if self._current is None:
                try:
                    self._current = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._closing.is_set():
                        break
                    continue
            if not self._deliver(self._current, worker):
                self._give_up()
                break
            self._current = None
        try:
            self.sink.close()
        except Exception as exc:
            self.errors += 1
            log.error("sink %s: close failed: %s", self.sink.name, exc)

    def _deliver(self, item: Item, worker: SupervisedThread) -> bool:
        """Write one item, retrying I/O errors. False when shutdown's deadline passed first."""
        backoff = Backoff(start=0.5, maximum=30.0)
        while True:
            try:
                if isinstance(item, CameraStatus):
                    self.sink.write_status(item)
                elif isinstance(item, RuleState | CameraObjects):
                    self.sink.write_state(item)
                elif isinstance(item, CommandReply):
                    self.sink.write_reply(item)
                else:
                    self.sink.write(item)
                    self.written += 1
            except TRANSIENT_ERRORS as exc:
                self.errors += 1
                self._fail(worker, str(exc))
                left = self._close_deadline - time.monotonic()
                if self._closing.is_set() and left <= 0:
                    return False
                if self._wake.wait(min(backoff.next(), left)):
                    self._wake.clear()
                continue
            except Exception:
                self.errors += 1
                log.exception("sink %s: cannot write this message; skipping it", self.sink.name)
                self._lose(item, 1, "it could not be written")
                return True
            if self._failing:
                self._throttle.clear(
                    self._failing,
                    recovered=f"sink {self.sink.name}: writing again after {self.errors} failed attempt(s)",
                )
                self._failing = ""
                worker.recovered()
            return True

    def _fail(self, worker: SupervisedThread, reason: str) -> None:
        self._failing = f"sink {self.sink.name}: cannot write; keeping the events and retrying"
        self._throttle.log(logging.ERROR, self._failing, reason)
        worker.degraded(f"cannot write: {reason}")

    def _give_up(self) -> None:
        """Shutdown came while the sink was failing: count and log what it still held."""
        lost = [self._current] if isinstance(self._current, EventMessage) else []
        self._current = None
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, EventMessage):
                lost.append(item)
        if lost:
            assert isinstance(lost[0], EventMessage)
            self._lose(lost[0], len(lost), "the sink was still failing at shutdown")

    def _lose(self, first: Item, n: int, why: str) -> None:
        if isinstance(first, EventMessage):
            self.dropped += n
            log.error(
                "sink %s: %d event(s) lost (first %s): %s", self.sink.name, n, first.event.event_id, why
            )

    def begin_close(self, timeout: float) -> None:
        """Write what is queued (retrying failures for up to ``timeout`` seconds), then close the sink."""
        self._close_deadline = time.monotonic() + timeout
        self._closing.set()
        self._wake.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self, timeout: float) -> bool:
        """Write what is queued, close the sink. False if it did not finish within ``timeout``."""
        self.begin_close(timeout)
        return self.join(timeout + 1.0)


class EventBus:
    """Fans every message out to every sink."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.workers = [SinkWorker(s) for s in sinks]

    def publish(self, message: EventMessage) -> None:
        ev = message.event
        log.info(
            "event %s %s rule=%s camera=%s track=%s%s",
            ev.type,
            ev.alert_id[-12:],
            ev.rule.name,
            ev.camera,
            ev.track_id,
            f" reason={ev.reason}" if ev.reason else "",
        )
        for worker in self.workers:
            worker.submit(message)

    def status(self, status: CameraStatus) -> None:
        for worker in self.workers:
            worker.submit(status)

    def state(self, state: StateMessage) -> None:
        for worker in self.workers:
            worker.submit(state)

    def reply(self, reply: CommandReply) -> None:
        for worker in self.workers:
            worker.submit(reply)

    def listen(self, handler: Callable[[Command], None]) -> None:
        for worker in self.workers:
            worker.sink.listen(handler)

    def describe(self, config: Config) -> None:
        for worker in self.workers:
            worker.sink.describe(config)

    def close(self, timeout: float) -> bool:
        """Close every sink in parallel; each gets ``timeout`` seconds to write what it holds."""
        for worker in self.workers:
            worker.begin_close(timeout)
        deadline = time.monotonic() + timeout + 1.0
        return all([w.join(max(0.0, deadline - time.monotonic())) for w in self.workers])
