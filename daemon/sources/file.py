"""Video files (any container FFmpeg reads), decoded with PyAV.

Timestamps come from the stream's presentation times, anchored at the wall time decoding started, so
rules see the file's own timing (a 30 fps file gives frames 1/30 s apart however fast it is decoded) and
events still carry real dates. Looping continues the clock, so time never runs backwards.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from .pyav import PyAvDecoder, PyAvSource


class FileSource(PyAvSource):
    live = False

    def __init__(
        self,
        path: str,
        *,
        realtime: bool = False,
        loop: bool = False,
        hwaccel: str | None = None,
        name: str = "",
        width: int = 0,
    ) -> None:
        self.path = path
        self.realtime = realtime
        self.loop = loop
        self._decoder = PyAvDecoder(path, hwaccel=hwaccel, name=name, width=width)
        self._anchor = 0.0  # wall time of pts 0 of the first pass
        self._offset = 0.0  # file time added by earlier loops
        self._first_pts: float | None = None
        self._last = 0.0  # latest timestamp relative to the anchor
        self._count = 0

    def open(self) -> None:
        self._decoder.open()
        self._anchor = time.time()
        self._offset = 0.0
        self._first_pts = None
        self._last = 0.0
        self._count = 0

    def _interval(self) -> float:
        return 1.0 / self._decoder.fps if self._decoder.fps > 0 else 1.0 / 25

    def read(self) -> tuple[npt.NDArray[np.uint8], float] | None:
        item = self._decoder.read()
        if item is None and self.loop and self._count:
            self._decoder.open()
            self._offset = self._last + self._interval()
            self._first_pts = None
            item = self._decoder.read()
        if item is None:
            return None
        image, pts = item
        self._count += 1
        if pts is None:  # no timestamps in the container: derive them from the frame rate
            pts = (self._first_pts or 0.0) + (self._count - 1) * self._interval()
        if self._first_pts is None:
            self._first_pts = pts
        rel = self._offset + pts - self._first_pts
        if rel <= self._last and self._count > 1:  # repeated or out-of-order pts: keep time increasing
            rel = self._last + 1e-3
        self._last = rel
        if self.realtime:
            delay = self._anchor + rel - time.time()
            if delay > 0:
                time.sleep(delay)
        return image, self._anchor + rel

    def media_time(self, ts: float) -> float | None:
        return round(ts - self._anchor, 6)

    def close(self) -> None:
        self._decoder.close()
