"""Writes each alert's evidence clip, ``<dir>/<camera>/<alert_id>.mp4`` (daemon/clips.py makes them).

A ``start`` event asks for the video from ``pre_seconds`` before its condition began to ``post_seconds``
after the alert started. The clip can only be cut once the camera has delivered that far, so requests
wait on this sink's own supervised thread — never on the sink worker, which goes on with the next
events — and are written as soon as the camera's ring reaches their end, or after a grace period if it
never does (a camera that went silent: the clip then ends where its video does). At shutdown the
waiting clips are written with what there is. A clip that cannot be written for a disk error is kept
and retried with backoff (the sink shows as degraded in ``/readyz``); one whose video is gone is logged
and counted in ``sitewatch_sink_errors_total{sink="clips"}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sitewatch.daemon.backoff import Backoff
from sitewatch.daemon.clips import ClipRing, write_clip
from sitewatch.daemon.config import ClipSinkConfig
from sitewatch.daemon.events import EventMessage
from sitewatch.daemon.logs import Throttle
from sitewatch.daemon.supervisor import SupervisedThread

from .base import TRANSIENT_ERRORS, Sink

log = logging.getLogger(__name__)

GRACE_S = 30.0
"""Wall seconds past a clip's end to wait for its camera before writing what there is."""


@dataclass(slots=True)
class _Job:
    key: str
    """The alert id: the pipeline asked the camera's ring to hold this clip's video under it."""
    camera: str
    path: Path
    start: float
    end: float
    deadline: float
    """Monotonic time after which the clip is written with whatever video there is."""
    retry_at: float = 0.0


class ClipSink(Sink):
    name = "clips"

    def __init__(self, cfg: ClipSinkConfig, rings: Callable[[str], ClipRing | None]) -> None:
        self.cfg = cfg
        self.directory = cfg.dir.resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rings = rings
        self.written = 0
        self.errors = 0
        self._jobs: list[_Job] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._throttle = Throttle(log)
        self._backoff = Backoff(start=1.0, maximum=60.0)
        self._thread = SupervisedThread("clips", self._run, stop=self._stop)
        self._thread.start()

    def write(self, message: EventMessage) -> None:
        ev = message.event
        if ev.type != "start" or ev.clip is None:
            return
        target = (self.directory / ev.clip).resolve()
        if not target.is_relative_to(self.directory):
            raise ValueError(f"clip path {ev.clip!r} escapes {self.directory}")
        job = _Job(
            ev.alert_id,
            ev.camera,
            target,
            start=ev.started_at - self.cfg.pre_seconds,
            end=ev.frame_ts + self.cfg.post_seconds,
            deadline=time.monotonic() + self.cfg.post_seconds + GRACE_S,
        )
        with self._lock:
            self._jobs.append(job)

    def pending(self) -> int:
        with self._lock:
            return len(self._jobs)

    def close(self) -> None:
        """Write the waiting clips with the video there is, then stop."""
        self._stop.set()
        self._thread.join(30.0)

    def _run(self, worker: SupervisedThread) -> None:
        while True:
            stopping = self._stop.is_set()
            now = time.monotonic()
            with self._lock:
                jobs = list(self._jobs)
            for job in jobs:
                ring = self.rings(job.camera)
                if ring is None:
                    self._give_up(job, "its camera was removed")
                    continue
                due = ring.newest() >= job.end or now >= job.deadline or stopping
                if due and now >= job.retry_at:
                    self._write(job, ring, worker)
            if stopping:
                return
            self._stop.wait(0.2)

    def _write(self, job: _Job, ring: ClipRing, worker: SupervisedThread) -> None:
        clip = ring.take(job.start, job.end)
        if clip is None:
            self._give_up(
                job, "no video of that time is left (the camera was down, or the ring is too small)"
            )
            return
        try:
            write_clip(clip, job.path)
        except TRANSIENT_ERRORS as exc:
            self.errors += 1
            job.retry_at = time.monotonic() + self._backoff.next()
            self._throttle.log(logging.ERROR, "clips: cannot write; keeping the clip and retrying", str(exc))
            worker.degraded(f"cannot write clips: {exc}")
            if not self._stop.is_set():
                return
            self._give_up(job, f"the disk still failed at shutdown ({exc})")
            return
        except Exception:
            log.exception("clips: cannot write %s; skipping it", job.path.name)
            self._give_up(job, "it could not be encoded")
            return
        self._backoff.reset()
        if self._throttle.active("clips: cannot write; keeping the clip and retrying"):
            self._throttle.clear(
                "clips: cannot write; keeping the clip and retrying", recovered="clips: writing again"
            )
            worker.recovered()
        self.written += 1
        short = job.end - clip.end
        if short > 1.0:
            log.info("clip %s ends %.1f s before the promised %.1f s after the alert (no more video)",
                     job.path.name, short, self.cfg.post_seconds)  # fmt: skip
        self._done(job)

    def _give_up(self, job: _Job, why: str) -> None:
        self.errors += 1
        log.warning("clip %s for camera %s not written: %s", job.path.name, job.camera, why)
        self._done(job)

    def _done(self, job: _Job) -> None:
        if (ring := self.rings(job.camera)) is not None:
            ring.release(job.key)
        with self._lock:
            if job in self._jobs:
                self._jobs.remove(job)
