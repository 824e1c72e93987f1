"""Letterboxing a batch of frames into one preallocated model input, and mapping boxes back.

The geometry is Ultralytics' own ``LetterBox(auto=True)`` for rectangular inference, so an exported model
fed by this sees the same pixels as ``YOLO.predict`` on the ``.pt`` and returns the same boxes: each frame
is scaled to fit ``imgsz`` on its long side (linear interpolation), centred, and padded with grey (114)
to a multiple of the stride. A batch takes the largest padded size among its frames, so cameras of
different shapes still share one inference: each frame keeps the place it would have alone (its own
letterbox, at the top left), so the network sees it on the same stride grid batched or not, and the
rest is grey.

The input buffer is reused from batch to batch (reallocated only when the batch shape changes), so a
steady stream of frames costs one resize per frame and no new arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

PAD_VALUE = 114
"""Ultralytics' letterbox grey."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one frame sits in the model input: ``input = frame * scale + (pad_x, pad_y)``."""

    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int
    """The frame's own size, to clip boxes to it."""


def place(width: int, height: int, imgsz: int, stride: int = 32) -> tuple[Placement, int, int]:
    """The placement of a ``width`` x ``height`` frame for ``imgsz``, and the padded input size it needs
    on its own (``input_w``, ``input_h``: multiples of ``stride``)."""
    scale = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * scale), round(height * scale)
    input_w = -(-new_w // stride) * stride
    input_h = -(-new_h // stride) * stride
    return Placement(scale, (input_w - new_w) // 2, (input_h - new_h) // 2, width, height), input_w, input_h


class BatchLetterbox:
    """Fills a reused ``(N, H, W, 3)`` uint8 BGR buffer with letterboxed frames."""

    def __init__(self, stride: int = 32) -> None:
        self.stride = stride
        self._buffer: npt.NDArray[np.uint8] = np.empty((0, 0, 0, 3), np.uint8)

    def __call__(
        self, images: Sequence[npt.NDArray[np.uint8]], imgsz: int
    ) -> tuple[npt.NDArray[np.uint8], list[Placement]]:
        """Letterbox ``images`` (BGR, any sizes) for ``imgsz``. The returned array is a view of the reused
        buffer: valid until the next call."""
        fits = [place(im.shape[1], im.shape[0], imgsz, self.stride) for im in images]
        input_w = max(f[1] for f in fits)
        input_h = max(f[2] for f in fits)
        n = len(images)
        if self._buffer.shape[0] < n or self._buffer.shape[1:3] != (input_h, input_w):
            self._buffer = np.empty((max(n, self._buffer.shape[0]), input_h, input_w, 3), np.uint8)
        batch = self._buffer[:n]
        placements = []
        for i, (image, (p, _, _)) in enumerate(zip(images, fits, strict=True)):
            new_w, new_h = round(p.width * p.scale), round(p.height * p.scale)
            target = batch[i]
            target.fill(PAD_VALUE)
            region = target[p.pad_y : p.pad_y + new_h, p.pad_x : p.pad_x + new_w]
            if (new_w, new_h) == (p.width, p.height):
                region[...] = image
            else:
                cv2.resize(image, (new_w, new_h), dst=region, interpolation=cv2.INTER_LINEAR)
            placements.append(p)
        return batch, placements


def unplace(xyxy: npt.NDArray[np.float32], p: Placement) -> npt.NDArray[np.float32]:
    """Boxes in model-input pixels → boxes in the frame's pixels, clipped to the frame (in place)."""
    xyxy[:, 0::2] -= p.pad_x
    xyxy[:, 1::2] -= p.pad_y
    xyxy /= p.scale
    np.clip(xyxy[:, 0::2], 0, p.width, out=xyxy[:, 0::2])
    np.clip(xyxy[:, 1::2], 0, p.height, out=xyxy[:, 1::2])
    return xyxy
