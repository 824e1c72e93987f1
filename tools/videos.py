"""Video making: encode frames to H.264 with PyAV (the synthetic site's clips, and the tests, which
generate every video they decode instead of committing large files), and find Ultralytics' photos."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from sitewatch.daemon.resources import resolve_package_path

Image = npt.NDArray[np.uint8]


def ultralytics_asset(name: str) -> Path:
    """A photo shipped with Ultralytics (``bus.jpg``, ``zidane.jpg``)."""
    return resolve_package_path(f"pkg:ultralytics/assets/{name}")


def write_video(path: Path, frames: Iterable[Image], fps: int = 10, crf: int = 26, gop: int = 0) -> int:
    """Encode BGR frames as H.264 (yuv420p) at a constant frame rate, with a keyframe every ``gop``
    frames (0: x264's default, up to 250, as long as an IP camera's is short); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with av.open(str(path), mode="w") as container:
        stream = None
        for image in frames:
            if stream is None:
                h, w = image.shape[:2]
                stream = container.add_stream("libx264", rate=Fraction(fps))
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast"} | ({"g": str(gop)} if gop else {})
            frame = av.VideoFrame.from_ndarray(image[: stream.height, : stream.width], format="bgr24")
            container.mux(stream.encode(frame))
            count += 1
        if stream is not None:
            container.mux(stream.encode(None))
    return count
