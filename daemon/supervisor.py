"""One supervisor policy for every long-lived thread: producers, the inference loop, sink workers, the
MQTT publisher, the track recorder and the HTTP server.

A worker is a ``SupervisedThread``. Its ``work`` runs until it returns (the worker is finished) or
raises. An unexpected exception is logged (once with its traceback, then as a count per minute while it
repeats), counted in ``sitewatch_worker_restarts_total{worker=...}``, and ``work`` is started again after
the shared backoff; a run that lasted ``HEALTHY_AFTER`` seconds resets the backoff and ends the failure.

Faults a worker handles itself (a full disk, a broker that is down) are reported with ``degraded`` and
``recovered``: the worker keeps running and retrying, and the fault shows in ``/readyz``, the systemd
``STATUS=`` line and the metrics. A worker that keeps crashing for longer than the supervisor's
``give_up_after`` is *hopeless*: the service then stops pinging the systemd watchdog so that systemd
restarts the whole process. A degraded worker never is: restarting does not make a disk emptier or a
broker reachable, and would lose what the worker holds in memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .backoff import Backoff
from .logs import Throttle

log = logging.getLogger(__name__)

HEALTHY_AFTER = 60.0
"""Seconds a restarted worker must run without crashing before its failure is over."""


class WorkerState(Enum):
    RUNNING = "running"
    DEGRADED = "degraded"
    """Running, but a fault it handles itself keeps it from doing its job (it retries)."""
    RESTARTING = "restarting"
    """Crashed; waiting for the backoff before running again."""
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What ``/readyz``, the systemd status line and the metrics say about one worker."""

    name: str
    state: WorkerState
    reason: str
    since: float
    """Monotonic seconds: when the current state or failure began."""
    restarts: int


class Supervisor:
    """Keeps the registry of live workers and the restart counts (for the whole process life)."""

    def __init__(self, *, give_up_after: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.give_up_after = give_up_after
        self.clock = clock
        self.restarts: Counter[str] = Counter()
        """Worker name → restarts since the process started (replaced threads keep their name's count)."""
        self._workers: set[SupervisedThread] = set()
        self._lock = threading.Lock()
        self.throttle = Throttle(log)

    def _add(self, worker: SupervisedThread) -> None:
        with self._lock:
            self._workers.add(worker)

    def _remove(self, worker: SupervisedThread) -> None:
        with self._lock:
            self._workers.discard(worker)

    def _count_restart(self, name: str) -> None:
        with self._lock:
            self.restarts[name] += 1

    def restart_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.restarts)

    def reports(self) -> list[WorkerReport]:
        with self._lock:
            workers = list(self._workers)
        return sorted((w.report() for w in workers), key=lambda r: r.name)

    def problems(self) -> list[str]:
        """One line per worker that is not doing its job, for ``/readyz`` and ``STATUS=``."""
        now = self.clock()
        return [
            f"{r.name} {r.state.value} for {now - r.since:.0f} s: {r.reason}"
            for r in self.reports()
            if r.state in (WorkerState.DEGRADED, WorkerState.RESTARTING)
        ]

    def hopeless(self) -> list[str]:
        """Workers that have kept crashing for longer than ``give_up_after``: restart the process."""
        now = self.clock()
        with self._lock:
            workers = list(self._workers)
        for w in workers:
            w._settle()
        return [
            f"{w.name} has kept failing for {now - w.failing_since:.0f} s"
            for w in workers
            if w.failing_since is not None and now - w.failing_since > self.give_up_after
        ]


supervisor = Supervisor()
"""The process's supervisor; tests that need a clock of their own make their own."""


class SupervisedThread(threading.Thread):
    """A daemon thread run under the supervisor policy. Subclass and override ``work``, or pass
    ``target`` (called with the thread, so it can report ``degraded``/``recovered``)."""

    def __init__(
        self,
        name: str,
        target: Callable[[SupervisedThread], None] | None = None,
        *,
        stop: threading.Event | None = None,
        supervisor_: Supervisor | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._work_target = target
        self.stop_event = stop or threading.Event()
        self.supervisor = supervisor_ or supervisor
        self.backoff = Backoff(maximum=60.0)
        self.worker_state = WorkerState.RUNNING
        self.reason = ""
        self.since = self.supervisor.clock()
        self.failing_since: float | None = None
        """When the current series of crashes began; None while the worker is healthy."""
        self._run_started = self.since

    def work(self) -> None:
        """The worker's body; returns when finished, raises on an unexpected fault."""
        if self._work_target is not None:
            self._work_target(self)

    # --- reported by the worker ------------------------------------------------------------------

    def degraded(self, reason: str) -> None:
        """A fault the worker handles (and retries): shown in /readyz until ``recovered``."""
        if self.worker_state is not WorkerState.DEGRADED or reason != self.reason:
            if self.worker_state is not WorkerState.DEGRADED:
                self.since = self.supervisor.clock()
            self.worker_state, self.reason = WorkerState.DEGRADED, reason

    def recovered(self) -> None:
        if self.worker_state is WorkerState.DEGRADED:
            self.worker_state, self.reason, self.since = WorkerState.RUNNING, "", self.supervisor.clock()

    def report(self) -> WorkerReport:
        self._settle()
        restarts = self.supervisor.restarts[self.name]
        return WorkerReport(self.name, self.worker_state, self.reason, self.since, restarts)

    def _settle(self) -> None:
        """A restarted run that lasted HEALTHY_AFTER ends the failure (checked lazily, by the readers)."""
        if (
            self.failing_since is not None
            and self.worker_state is WorkerState.RUNNING
            and self.supervisor.clock() - self._run_started >= HEALTHY_AFTER
        ):
            self.failing_since = None
            self.backoff.reset()

    # --- the policy ------------------------------------------------------------------------------

    def run(self) -> None:
        sup = self.supervisor
        sup._add(self)
        try:
            while True:
                self._run_started = sup.clock()
                try:
                    self.work()
                    self.worker_state = WorkerState.FINISHED
                    return
                except Exception as exc:
                    if self.stop_event.is_set():
                        log.debug("worker %s failed while stopping: %r", self.name, exc)
                        self.worker_state = WorkerState.FINISHED
                        return
                    now = sup.clock()
                    self._settle()
                    if self.failing_since is None:
                        self.failing_since = now
                    sup._count_restart(self.name)
                    wait = self.backoff.next()
                    self.worker_state, self.since = WorkerState.RESTARTING, now
                    self.reason = f"{type(exc).__name__}: {exc}"
                    sup.throttle.log(
                        logging.ERROR,
                        f"worker {self.name} crashed ({type(exc).__name__}); restarting it",
                        detail=f"in {wait:.1f} s",
                        exc_info=True,
                    )
                    if self.stop_event.wait(wait):
                        self.worker_state = WorkerState.FINISHED
                        return
                    self.worker_state = WorkerState.RUNNING
        finally:
            sup._remove(self)
