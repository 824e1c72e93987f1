"""The inference backend's availability as the inference loop sees it.

A remote inference server (daemon/detectors/remote.py) that does not answer raises
``InferenceUnavailable``. The loop then drops the frames that needed detection — counted per camera,
never queued: the camera queues stay bounded and the frames would be stale anyway — and tries the server
again only after the shared backoff, so a dead server costs one failed request per wait, not one per
batch. ``/readyz`` and the metrics say ``inference_unavailable`` meanwhile; the first answer clears it,
with one log line for the outage and one for the recovery.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from .backoff import Backoff
from .detectors.base import Detector, InferenceUnavailable
from .types import Detections, Frame

log = logging.getLogger(__name__)


@dataclass(slots=True)
class InferenceOutage:
    since: float | None = None
    """Monotonic time the current outage began; None while inference works."""
    reason: str = ""
    retry_at: float = 0.0
    outages: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    """Frames dropped per camera because inference was unavailable."""
    backoff: Backoff = field(default_factory=lambda: Backoff(start=1.0, maximum=15.0))
    _dropped_this_outage: int = 0

    @property
    def available(self) -> bool:
        return self.since is None

    def waiting(self) -> bool:
        """Down, and not yet time to try the server again."""
        return self.since is not None and time.monotonic() < self.retry_at

    def detect(
        self, detector: Detector, frames: list[Frame]
    ) -> tuple[list[Frame], list[Detections], set[int]]:
        """``detector.detect(frames)`` unless inference is unavailable. Returns the frames detected,
        their detections, and the ids of the frames dropped instead (counted). Other errors propagate."""
        if not frames:
            return [], [], set()
        if not self.waiting():
            try:
                results = detector.detect(frames)
            except InferenceUnavailable as exc:
                self.failed(str(exc))
            else:
                self.answered()
                return frames, results, set()
        self.drop([frame.camera for frame in frames])
        return [], [], {id(frame) for frame in frames}

    def drop(self, cameras: list[str]) -> None:
        self.dropped.update(cameras)
        self._dropped_this_outage += len(cameras)

    def failed(self, reason: str) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            self.outages += 1
            self._dropped_this_outage = 0
            log.error("inference_unavailable: %s; dropping frames until it answers", reason)
        elif reason != self.reason:
            log.error("inference_unavailable: %s", reason)
        self.reason = reason
        self.retry_at = now + self.backoff.next()

    def answered(self) -> None:
        if self.since is None:
            return
        log.info(
            "inference available again after %.1f s (%d frame(s) dropped meanwhile)",
            time.monotonic() - self.since, self._dropped_this_outage,
        )  # fmt: skip
        self.since = None
        self.reason = ""
        self.backoff.reset()

    def problem(self) -> str | None:
        """The ``/readyz`` line while down."""
        if self.since is None:
            return None
        return (
            f"inference_unavailable for {time.monotonic() - self.since:.0f} s: {self.reason} "
            f"({self._dropped_this_outage} frame(s) dropped)"
        )
