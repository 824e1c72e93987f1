"""One producer thread per camera: open the source, decode, cap the frame rate, queue frames.

Live sources (RTSP, USB) that fail to open or drop out are retried with exponential backoff for as long
as the daemon runs; a file source ends at its end (or loops). The producer never raises: every fault is
logged once with the camera name (credentials redacted) and what happens next.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import Enum

import numpy as np
import numpy.typing as npt

from ..backoff import Backoff
from ..clips import ClipRing
from ..config import CameraConfig
from ..gating import MotionMeter
from ..queues import FrameHub
from ..redact import redact_text
from ..supervisor import SupervisedThread
from ..types import Frame

log = logging.getLogger(__name__)

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0


class SourceError(Exception):
    """A source cannot open or read; the message is safe to log (no credentials)."""


class VideoSource(ABC):
    """Decodes one camera. ``read`` returns ``(bgr_image, ts_seconds)``, or None at the end of a file."""

    live: bool
    decode_errors: int = 0
    ring: ClipRing | None = None
    """Evidence clips: what this source decodes is also kept here (daemon/clips.py); set by the
    pipeline, and handed from a replaced source to its successor."""

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self) -> tuple[npt.NDArray[np.uint8], float] | None: ...

    @abstractmethod
    def close(self) -> None: ...

    def media_time(self, ts: float) -> float | None:
        """Seconds into the media of the frame read at ``ts``: files know it, live cameras do not."""
        return None


class CameraState(Enum):
    CONNECTING = "connecting"
    ONLINE = "online"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    ENDED = "ended"
    FAILED = "failed"
    DISABLED = "disabled"
    """Switched off by an operator's command (the pipeline reports it; a producer never is)."""


OFFLINE_AFTER = 5
"""Consecutive failed attempts after which a live camera is reported offline (it is still retried)."""
HEALTHY_RESET_S = 60.0
"""Seconds of frames after which the reconnect backoff starts again from 1 s."""


class Producer(SupervisedThread):
    def __init__(
        self,
        camera: CameraConfig,
        source: VideoSource,
        hub: FrameHub,
        *,
        max_frames: int | None = None,
        on_state: Callable[[Producer], None] | None = None,
        first_index: int = 0,
    ) -> None:
        super().__init__(f"source-{camera.name}", stop=threading.Event())
        self.camera = camera
        self.source = source
        self.hub = hub
        self.max_frames = max_frames
        self.state = CameraState.CONNECTING
        self.frames = first_index
        """Index of the next frame: continues across reconnects and replaced producers."""
        self.decoded = 0
        """Frames the decoder delivered (the ``fps`` cap skips some of them; the queue may drop more)."""
        self.skipped = 0
        """Decoded frames the ``fps`` cap left out."""
        self.reconnects = 0
        self.failures = 0
        """Consecutive failed attempts to open or read (0 while healthy)."""
        self.on_state = on_state
        self.fps = 0.0
        """The camera's recent frame rate, from frame timestamps (exponential average of intervals)."""
        self.last_frame_at = time.monotonic()
        """When the last frame was decoded (monotonic seconds)."""
        self._period = 1.0 / camera.fps if camera.fps > 0 else 0.0
        self._next_due = float("-inf")
        self._last_ts: float | None = None
        self._interval = 0.0
        self._online_since = 0.0
        self._retry = Backoff(start=BACKOFF_START, maximum=BACKOFF_MAX)
        self._motion = MotionMeter() if camera.motion_gate else None
        """Measured here, in the camera's own thread, so motion gating costs the inference loop nothing."""

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def done(self) -> bool:
        """Finished for good: the file ended, the frame budget is spent, it failed, or it was stopped
        (the thread only returns in those cases)."""
        return self.ident is not None and not self.is_alive()

    def stall_limit(self, stall_seconds: float) -> float:
        """Seconds without a frame after which this camera counts as stalled: ``stall_seconds``, or ten
        frame intervals of its own (learnt) rate, whichever is longer, so a 1 fps camera is not
        restarted in a loop."""
        rate = self.fps or getattr(self.source, "stream_fps", 0.0)
        return max(stall_seconds, 10.0 / rate) if rate > 0 else max(stall_seconds, 10.0)

    def mark_stalled(self, detail: str) -> None:
        """The watchdog gave up on this producer (it is being replaced)."""
        self._set_state(CameraState.STALLED, detail)

    def _set_state(self, state: CameraState, detail: str = "") -> None:
        """Log and report a change of state; the same state again is not news."""
        if state is self.state:
            return
        self.state = state
        bad = (CameraState.RECONNECTING, CameraState.OFFLINE, CameraState.STALLED, CameraState.FAILED)
        level = logging.WARNING if state in bad else logging.INFO
        log.log(level, "camera %s: %s%s", self.camera.name, state.value, f" ({detail})" if detail else "")
        if self.on_state is not None:
            self.on_state(self)

    def _retry_wait(self, reason: str) -> None:
        """A live source failed: report it, wait the backoff (with jitter), double the backoff."""
        self.failures += 1
        self.reconnects += 1
        wait = self._retry.next()
        detail = f"{redact_text(reason)}; retrying in {wait:.1f} s"
        if self.failures >= OFFLINE_AFTER and self.state is not CameraState.OFFLINE:
            self._set_state(CameraState.OFFLINE, f"{self.failures} attempts failed; {detail}")
        elif self.state in (CameraState.RECONNECTING, CameraState.OFFLINE):
            log.info("camera %s: attempt %d failed: %s", self.camera.name, self.failures, detail)
        else:
            self._set_state(CameraState.RECONNECTING, detail)
        self.stop_event.wait(wait)

    def work(self) -> None:
        """Runs under the supervisor: a fault that escapes (a bug, not a camera fault) restarts it."""
        while not self.stop_event.is_set():
            try:
                self.source.open()
            except Exception as exc:
                if not self.source.live:
                    self._fail(f"cannot open: {exc}")
                    return
                self._retry_wait(f"cannot open: {exc}")
                continue
            self._online_since = self.last_frame_at = time.monotonic()
            self._set_state(CameraState.ONLINE)
            try:
                finished = self._pump()
                reason = "stream ended"
            except Exception as exc:
                finished = not self.source.live
                reason = f"read failed: {exc}"
                if finished:
                    self._fail(reason)
                    return
            finally:
                self.source.close()
            if finished or self.stop_event.is_set():
                break
            self._retry_wait(reason)
        if self.state is not CameraState.STALLED:
            self._set_state(CameraState.ENDED, f"{self.frames} frames")

    def _fail(self, detail: str) -> None:
        self._set_state(CameraState.FAILED, redact_text(detail))

    def _pump(self) -> bool:
        """Read until the stream ends or stops. True means the camera is finished for good."""
        while not self.stop_event.is_set():
            item = self.source.read()
            if item is None:
                return not self.source.live
            image, ts = item
            self.decoded += 1
            if self.source.ring is not None:
                self.source.ring.commit(ts, image)
            if self.stop_event.is_set():
                return True  # replaced while this read hung: the new producer owns the frame indices
            now = time.monotonic()
            self.last_frame_at = now
            if self.failures and now - self._online_since >= HEALTHY_RESET_S:
                self.failures = 0  # healthy again: a fresh backoff
                self._retry.reset()
            if self._last_ts is not None and ts > self._last_ts:
                gap = ts - self._last_ts
                self._interval = gap if self._interval == 0 else 0.9 * self._interval + 0.1 * gap
                self.fps = 1.0 / self._interval
            self._last_ts = ts
            if self._period:
                if ts < self._next_due - 1e-3:
                    self.skipped += 1
                    continue
                self._next_due += self._period
                if self._next_due < ts:
                    self._next_due = ts + self._period
            motion = self._motion(image) if self._motion is not None else None
            frame = Frame(self.camera.name, self.frames, ts, image, self.source.media_time(ts), now, motion)
            if not self.hub.put(frame, self.stop_event):
                return True
            self.frames += 1
            if self.max_frames is not None and self.frames >= self.max_frames:
                return True
        return True
