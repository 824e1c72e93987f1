"""Decoding with PyAV (FFmpeg), shared by file and RTSP sources.

Packets are decoded one at a time so a damaged packet costs one frame (counted in ``decode_errors``)
instead of ending the stream; frames the decoder flags as corrupt are counted and skipped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from ..clips import ClipRing
from .base import VideoSource

log = logging.getLogger(__name__)


class PyAvDecoder:
    def __init__(
        self,
        url: str,
        *,
        options: dict[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
        hwaccel: str | None = None,
        name: str = "",
        width: int = 0,
    ) -> None:
        self.url = url
        self.width = width
        """Scale frames down to this width in FFmpeg's own converter (0: as they come)."""
        self.options = options or {}
        self.timeout = timeout
        self.hwaccel = hwaccel
        self.name = name
        self.decode_errors = 0
        self.fps = 0.0
        self.ring: ClipRing | None = None
        """Evidence clips: each demuxed packet is handed over before it is decoded."""
        self._container: Any = None
        self._frames: Iterator[tuple[npt.NDArray[np.uint8], float | None]] | None = None

    def _open_container(self) -> Any:
        if self.hwaccel:
            from av.codec.hwaccel import HWAccel

            try:
                hw = HWAccel(device_type=self.hwaccel, allow_software_fallback=True)
                return av.open(self.url, options=self.options, timeout=self.timeout, hwaccel=hw)
            except (av.error.FFmpegError, OSError) as exc:
                container = av.open(self.url, options=self.options, timeout=self.timeout)  # not the network
                log.warning(
                    "camera %s: hardware decoding (%s) unavailable (%s); decoding in software",
                    self.name, self.hwaccel, exc,
                )  # fmt: skip
                self.hwaccel = None
                return container
        return av.open(self.url, options=self.options, timeout=self.timeout)

    def open(self) -> None:
        self.close()
        container = self._open_container()
        if not container.streams.video:
            container.close()
            raise ValueError(f"no video stream in {self.url}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else 0.0
        self._container = container
        if self.ring is not None:
            self.ring.begin(stream)
        self._frames = self._decode(container, stream)

    def _decode(self, container: Any, stream: Any) -> Iterator[tuple[npt.NDArray[np.uint8], float | None]]:
        ring = self.ring
        for packet in container.demux(stream):
            if ring is not None:
                ring.add(packet)
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self.decode_errors += 1
                log.debug("%s: skipped a damaged packet: %s", stream, exc)
                continue
            for frame in frames:
                if frame.is_corrupt:  # concealed damage: grey smears a detector would misread
                    self.decode_errors += 1
                    continue
                if 0 < self.width < frame.width:  # scaled while converting: no full-size BGR copy
                    height = max(2, round(frame.height * self.width / frame.width / 2) * 2)
                    image = frame.to_ndarray(
                        format="bgr24", width=self.width, height=height, interpolation="AREA"
                    )
                else:
                    image = frame.to_ndarray(format="bgr24")
                if ring is not None:
                    ring.decoded(frame.time)
                yield image, frame.time

    def read(self) -> tuple[npt.NDArray[np.uint8], float | None] | None:
        """The next frame and its presentation time in seconds (None if unknown); None at the end."""
        if self._frames is None:
            raise RuntimeError("decoder is not open")
        return next(self._frames, None)

    def close(self) -> None:
        if self._container is not None:
            with contextlib.suppress(av.error.FFmpegError):
                self._container.close()
        self._container = None
        self._frames = None


class PyAvSource(VideoSource):
    """A source that decodes with a ``PyAvDecoder`` (files, RTSP): its counters and clip ring are the
    decoder's."""

    _decoder: PyAvDecoder

    @property
    def decode_errors(self) -> int:  # type: ignore[override]
        return self._decoder.decode_errors

    @property  # type: ignore[override]
    def ring(self) -> ClipRing | None:
        return self._decoder.ring

    @ring.setter
    def ring(self, ring: ClipRing | None) -> None:
        self._decoder.ring = ring
