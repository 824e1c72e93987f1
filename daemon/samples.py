"""Sample video making: encode frames to H.264 with PyAV, and pan a camera over a still photo.

Used to build the shipped sample clip (``tools/make_sample.py``) and by the tests, which generate every
video they decode instead of committing large files.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def ultralytics_asset(name: str) -> Path:
    """A photo shipped with Ultralytics (``bus.jpg``, ``zidane.jpg``)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("ultralytics is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / name


def write_video(path: Path, frames: Iterable[Image], fps: int = 10, crf: int = 26) -> int:
    """Encode BGR frames as H.264 (yuv420p) at a constant frame rate; returns the frame count."""
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
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            frame = av.VideoFrame.from_ndarray(image[: stream.height, : stream.width], format="bgr24")
            container.mux(stream.encode(frame))
            count += 1
        if stream is not None:
            container.mux(stream.encode(None))
    return count


def pan(
    image: Image, *, size: tuple[int, int], seconds: float, fps: int, zoom: float = 1.0, hold: float = 0.0
) -> Iterator[Image]:
    """Frames of a virtual camera panning left-to-right and back across ``image`` (``size`` = w, h).

    The crop window covers ``1/zoom`` of the image height; objects in the photo move across the frame
    smoothly, as if the camera were on a slow pan-tilt head. ``hold`` (0..1) is the share of the time the
    camera rests at each end of its sweep.
    """
    out_w, out_h = size
    ih, iw = image.shape[:2]
    crop_h = min(ih, int(ih / zoom))
    crop_w = min(iw, int(crop_h * out_w / out_h))
    crop_h = int(crop_w * out_h / out_w)
    n = max(1, round(seconds * fps))
    for i in range(n):
        phase = 0.5 - 0.5 * np.cos(2 * np.pi * i / n)  # 0 → 1 → 0: there and back, smoothly
        phase = float(np.clip((phase - hold / 2) / (1 - hold), 0.0, 1.0))
        x = round(phase * (iw - crop_w))
        y = (ih - crop_h) // 2
        crop = image[y : y + crop_h, x : x + crop_w]
        yield np.asarray(cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA), np.uint8)


def street_canvas(height: int = 720) -> Image:
    """bus.jpg and zidane.jpg side by side at one height: a wide scene with people to pan across."""
    parts = []
    for name in ("bus.jpg", "zidane.jpg"):
        img = cv2.imread(str(ultralytics_asset(name)))
        if img is None:
            raise FileNotFoundError(ultralytics_asset(name))
        h, w = img.shape[:2]
        parts.append(cv2.resize(img, (round(w * height / h), height), interpolation=cv2.INTER_AREA))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))
