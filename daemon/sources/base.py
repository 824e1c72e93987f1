"""One producer thread per camera: open the source, decode, cap the frame rate, queue frames.

Live sources (RTSP, USB) that fail to open or drop out are retried with exponential backoff for as long
as the daemon runs; a file source ends at its end (or loops). The producer never raises: every fault is
logged once with the camera name (credentials redacted) and what happens next.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import Enum

import numpy as np
import numpy.typing as npt

from ..config import CameraConfig
from ..queues import FrameHub
from ..redact import redact_text
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

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self) -> tuple[npt.NDArray[np.uint8], float] | None: ...

    @abstractmethod
    def close(self) -> None: ...


class CameraState(Enum):
    CONNECTING = "connecting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"


class Producer(threading.Thread):
    def __init__(
        self,
        camera: CameraConfig,
        source: VideoSource,
        hub: FrameHub,
        *,
        max_frames: int | None = None,
        on_state: Callable[[Producer], None] | None = None,
    ) -> None:
        super().__init__(name=f"source-{camera.name}", daemon=True)
        self.camera = camera
        self.source = source
        self.hub = hub
        self.max_frames = max_frames
        self.stop_event = threading.Event()
        self.state = CameraState.CONNECTING
        self.frames = 0
        self.reconnects = 0
        self.on_state = on_state
        self.fps = 0.0
        """Recent frame rate, from frame timestamps (exponential average of the intervals)."""
        self._period = 1.0 / camera.fps if camera.fps > 0 else 0.0
        self._next_due = float("-inf")
        self._last_ts: float | None = None
        self._interval = 0.0

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def done(self) -> bool:
        """Finished for good: the file ended, the frame budget is spent, it failed, or it was stopped
        (the thread only returns in those cases)."""
        return self.ident is not None and not self.is_alive()

    def _set_state(self, state: CameraState, detail: str = "") -> None:
        """Log a state change once; a camera that stays down logs each further retry at INFO."""
        level = logging.WARNING if state in (CameraState.RECONNECTING, CameraState.FAILED) else logging.INFO
        if state is self.state:
            level = logging.INFO
            if state is not CameraState.RECONNECTING:
                return
        changed = state is not self.state
        self.state = state
        log.log(level, "camera %s: %s%s", self.camera.name, state.value, f" ({detail})" if detail else "")
        if changed and self.on_state is not None:
            self.on_state(self)

    def run(self) -> None:
        backoff = BACKOFF_START
        while not self.stop_event.is_set():
            try:
                self.source.open()
            except Exception as exc:
                if not self.source.live:
                    self._fail(f"cannot open: {exc}")
                    return
                self._set_state(
                    CameraState.RECONNECTING,
                    f"cannot open: {redact_text(str(exc))}; retrying in {backoff:.0f} s",
                )
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                self.reconnects += 1
                continue
            self._set_state(CameraState.ONLINE)
            backoff = BACKOFF_START
            try:
                finished = self._pump()
            except Exception as exc:
                finished = not self.source.live
                detail = f"read failed: {redact_text(str(exc))}"
                if finished:
                    self._fail(detail)
                    return
                self._set_state(CameraState.RECONNECTING, detail)
            finally:
                self.source.close()
            if finished or self.stop_event.is_set():
                break
            if self.state is not CameraState.RECONNECTING:
                self._set_state(CameraState.RECONNECTING, "stream ended")
            self.reconnects += 1
            self.stop_event.wait(backoff)
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
            if self._period:
                if ts < self._next_due - 1e-3:
                    continue
                self._next_due += self._period
                if self._next_due < ts:
                    self._next_due = ts + self._period
            if self._last_ts is not None and ts > self._last_ts:
                gap = ts - self._last_ts
                self._interval = gap if self._interval == 0 else 0.9 * self._interval + 0.1 * gap
                self.fps = 1.0 / self._interval
            self._last_ts = ts
            frame = Frame(self.camera.name, self.frames, ts, image)
            if not self.hub.put(frame, self.stop_event):
                return True
            self.frames += 1
            if self.max_frames is not None and self.frames >= self.max_frames:
                return True
        return True
