"""RTSP cameras, decoded with PyAV over TCP, with open and read timeouts so a dead camera never hangs
the producer. Frames are stamped with the wall clock at decode time."""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from ..config import CameraConfig
from ..redact import redact_url, register_secret, split_url, url_password
from .base import SourceError
from .pyav import PyAvDecoder, PyAvSource


def credentialed_url(camera: CameraConfig) -> str:
    """The URL to open: the config's URL with the password from ``password_env`` filled in, the
    password percent-encoded (a pasted password may hold ``#``, ``?``, ``/`` or ``@``), and the password
    registered for redaction."""
    parts = split_url(camera.url)
    if parts is None:
        return camera.url
    if camera.password_env:
        password = os.environ.get(camera.password_env, "")
        register_secret(password)
        return parts.with_password(quote(password, safe=""))
    register_secret(url_password(camera.url))
    return parts.encoded()


class RtspSource(PyAvSource):
    live = True

    def __init__(self, camera: CameraConfig) -> None:
        self._url = credentialed_url(camera)
        self.display_url = redact_url(camera.url)
        self._decoder = PyAvDecoder(
            self._url,
            options={
                "rtsp_transport": camera.transport,
                "fflags": "discardcorrupt",  # skip damaged packets instead of failing
                "analyzeduration": "1000000",  # µs: learn the stream in 1 s, not FFmpeg's default 5
            },
            timeout=(camera.open_timeout, camera.read_timeout),
            hwaccel=None if camera.hwaccel == "none" else camera.hwaccel,
            name=camera.name,
            width=camera.decode_width,
        )

    @property
    def stream_fps(self) -> float:
        """The frame rate the stream declares (0 if unknown)."""
        return self._decoder.fps

    def open(self) -> None:
        try:
            self._decoder.open()
        except Exception as exc:
            raise SourceError(f"{self.display_url}: {exc}") from None

    def read(self) -> tuple[npt.NDArray[np.uint8], float] | None:
        item = self._decoder.read()
        if item is None:
            return None
        return item[0], time.time()

    def close(self) -> None:
        self._decoder.close()
