"""The benchmark's clips, generated from Ultralytics' own photos (nothing is downloaded or committed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from videos import ultralytics_asset, write_video

Image = np.ndarray


def bus_pan_clip(path: Path, frames: int = 150, size: tuple[int, int] = (640, 360)) -> Path:
    """``frames`` frames at 30 fps panning down over ``bus.jpg`` (people, a bus, a street)."""
    photo = cv2.imread(str(ultralytics_asset("bus.jpg")))
    ph, pw = photo.shape[:2]
    crop_h = int(pw * size[1] / size[0])

    def gen() -> Iterator[Image]:
        for i in range(frames):
            y = int(i * (ph - crop_h) / frames)
            yield cv2.resize(photo[y : y + crop_h], size, interpolation=cv2.INTER_AREA)

    write_video(path, gen(), fps=30, crf=20)
    return path


def static_site_clip(path: Path, seconds: float = 40.0, fps: int = 10) -> Path:
    """A mostly static 640x360 camera: the street above ``bus.jpg``'s passengers, empty for 8 s; then a
    man (cut from the same photo) walks in, stands still for 16 s, walks out; empty again from 32 s. Mild
    sensor noise on every frame, as a real camera has."""
    photo = cv2.imread(str(ultralytics_asset("bus.jpg")))
    background = photo[0:360, 0:640].copy()
    man = photo[392:871, 211:347]
    man = cv2.resize(man, (int(man.shape[1] * 240 / man.shape[0]), 240), interpolation=cv2.INTER_AREA)
    mh, mw = man.shape[:2]
    rng = np.random.default_rng(5)

    def x_at(t: float) -> float | None:
        if 8 <= t < 12:
            return -mw + (t - 8) / 4 * (280 + mw)
        if 12 <= t < 28:
            return 280
        if 28 <= t < 32:
            return 280 + (t - 28) / 4 * (640 - 280)
        return None

    def gen() -> Iterator[Image]:
        for i in range(int(seconds * fps)):
            frame = background.copy()
            x = x_at(i / fps)
            if x is not None:
                x0 = round(x)
                x1 = x0 + mw
                lo, hi = max(0, x0), min(640, x1)
                if hi > lo:
                    frame[100 : 100 + mh, lo:hi] = man[:, lo - x0 : hi - x0]
            noise = rng.normal(0, 2.0, frame.shape)
            yield np.clip(frame + noise, 0, 255).astype(np.uint8)

    write_video(path, gen(), fps=fps, crf=20)
    return path


def synthetic_clip(path: Path, size: tuple[int, int], seconds: float = 8.0, fps: int = 30) -> Path:
    """A synthetic-site clip (tools/synthsite.py, the demo model's own family) at a camera's size."""
    from synthsite import make_clip

    make_clip(path, seconds=seconds, fps=fps, workers=8, seed=11, size=size)
    return path
