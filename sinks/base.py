"""The sink interface, and the worker that runs each sink on its own thread.

The inference thread hands events to ``EventBus.publish``, which never blocks: each sink has a bounded
queue and a thread of its own, so a slow disk or network delays only that sink. A sink whose queue is
full drops the message and counts and logs it (it would otherwise stall detection); the queues are sized
far above any plausible alert rate.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence

from daemon.events import CameraStatus, EventMessage

log = logging.getLogger(__name__)


class Sink(ABC):
    name: str

    @abstractmethod
    def write(self, message: EventMessage) -> None:
        """Deliver one message; raise on failure (the worker logs and counts it)."""

    def write_status(self, status: CameraStatus) -> None:  # noqa: B027 - most sinks ignore statuses
        """A camera changed state (or its periodic status is due)."""

    def close(self) -> None:  # noqa: B027 - sinks without resources need no close
        """Flush and release resources; called once, after the last write."""


_STOP = object()


class SinkWorker:
    def __init__(self, sink: Sink, capacity: int = 10_000) -> None:
        self.sink = sink
        self.errors = 0
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[object] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name=f"sink-{sink.name}", daemon=True)
        self._thread.start()

    def submit(self, item: EventMessage | CameraStatus) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            what = f"event {item.event.event_id}" if isinstance(item, EventMessage) else "a camera status"
            log.error("sink %s: queue full, dropped %s", self.sink.name, what)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            try:
                if isinstance(item, CameraStatus):
                    self.sink.write_status(item)
                    continue
                assert isinstance(item, EventMessage)
                self.sink.write(item)
                self.written += 1
            except Exception as exc:
                self.errors += 1
                log.error("sink %s: cannot write: %s", self.sink.name, exc)
        try:
            self.sink.close()
        except Exception as exc:
            self.errors += 1
            log.error("sink %s: close failed: %s", self.sink.name, exc)

    def close(self, timeout: float) -> bool:
        """Write what is queued, close the sink. False if it did not finish within ``timeout``."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()


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

    def close(self, timeout: float) -> bool:
        ok = True
        for worker in self.workers:
            ok &= worker.close(timeout)
        return ok
