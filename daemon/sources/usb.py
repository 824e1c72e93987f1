"""USB / V4L2 cameras through OpenCV (``usb:0`` or ``/dev/video0``), stamped with the wall clock."""

from __future__ import annotations

import time

import cv2
import numpy as np
import numpy.typing as npt

from .base import SourceError, VideoSource


class UsbSource(VideoSource):
    live = True

    def __init__(self, url: str, width: int = 0) -> None:
        self.device: int | str = int(url[4:]) if url.startswith("usb:") else url
        self.width = width
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        self.close()
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video device {self.device}")
        self._cap = cap

    def read(self) -> tuple[npt.NDArray[np.uint8], float] | None:
        if self._cap is None:
            raise SourceError("device is not open")
        ok, image = self._cap.read()
        if not ok:
            raise SourceError(f"video device {self.device} stopped delivering frames")
        h, w = image.shape[:2]
        if 0 < self.width < w:
            size = (self.width, max(2, round(h * self.width / w / 2) * 2))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return np.asarray(image, np.uint8), time.time()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap = None
