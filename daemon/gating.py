"""Detection gating for quiet cameras: run the detector only on the frames that need it.

Two gates, off by default, per camera:

* ``detect_every = N``: the detector sees every Nth frame.
* ``motion_gate``: the producer compares each frame with a slowly updated background at 160 px wide
  (grey, blurred: sensor noise and compression shimmer do not count) and reports the share of pixels
  that changed; a frame is detected only when that share reaches ``motion_threshold``, or when
  ``motion_refresh`` seconds passed without a detection (objects that crept in, a background that
  drifted). This is Frigate's approach: most site cameras show nothing moving most of the time.

Between detections the camera's tracks are *held*: the rules see the last detections and tracks again at
each frame's own time, so durations, dwell and clearing keep their clocks, and an alert starts at most
one detector interval later than it would ungated. Nothing is removed from the tracker while frames are
held; what left the picture moved, and motion brings the detector back.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

MOTION_WIDTH = 160
PIXEL_DELTA = 20
"""Grey levels a small-frame pixel must change by to count as moving."""
BACKGROUND_RATE = 0.1
"""How fast the background follows the picture (per frame): lighting drifts in, people do not."""


class MotionMeter:
    """The share of a frame that moved, against a running-average background; runs in the producer."""

    def __init__(self) -> None:
        self._background: npt.NDArray[np.float32] | None = None
        self._small: npt.NDArray[np.uint8] | None = None

    def __call__(self, image: npt.NDArray[np.uint8]) -> float:
        h, w = image.shape[:2]
        size = (MOTION_WIDTH, max(1, round(MOTION_WIDTH * h / w)))
        grey = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        grey = cv2.GaussianBlur(grey, (5, 5), 0)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey.astype(np.float32)
            return 1.0  # the first frame: everything is news
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        moved = float(np.count_nonzero(diff > PIXEL_DELTA)) / diff.size
        cv2.accumulateWeighted(grey, self._background, BACKGROUND_RATE)
        return moved


@dataclass(slots=True)
class Gate:
    """Decides per frame whether the detector runs; one per camera, used by the inference worker."""

    every: int = 1
    motion_threshold: float | None = None
    """None: motion does not gate."""
    refresh_s: float = 5.0
    _since: int = 0
    _last_ts: float | None = None

    @property
    def active(self) -> bool:
        return self.every > 1 or self.motion_threshold is not None

    def needs_detection(self, ts: float, motion: float | None) -> bool:
        due = self._last_ts is None or self._since + 1 >= self.every
        if self.motion_threshold is not None and due:
            stale = self._last_ts is None or ts - self._last_ts >= self.refresh_s
            due = stale or motion is None or motion >= self.motion_threshold
        if due:
            self._since, self._last_ts = 0, ts
        else:
            self._since += 1
        return due
