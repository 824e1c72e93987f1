"""Whether the model sees the heads a PPE rule judges at a size it can judge.

A detector scales each frame to its input size (``model.imgsz``): at 320 px a 960x540 camera's 11-27 px
heads become 4-9 px, too few to tell a hat from a bare head, and alerts go wrong without any error. This
watches the people a camera's PPE rules check and warns once, with the numbers and the fix, when their
heads would be under ``model.min_input_head_px`` at the model's input.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .rules.ppe import HEAD_SHARE

SAMPLES = 50
"""Person boxes looked at before judging (the median of them decides)."""


class HeadSizeCheck:
    def __init__(self, camera: str, person_labels: frozenset[str], min_px: float) -> None:
        self.camera = camera
        self.person_labels = person_labels
        self.min_px = min_px
        self._heights: list[float] = []
        self.done = min_px <= 0

    def observe(
        self,
        frame_size: tuple[int, int],
        input_size: int | None,
        heights: npt.NDArray[np.float32],
        labels: npt.NDArray[np.str_],
    ) -> str | None:
        """Feed one frame's tracks; returns the warning (once) when the verdict is "too small"."""
        if self.done:
            return None
        people = heights[np.isin(labels, list(self.person_labels))]
        self._heights.extend(float(h) for h in people[: SAMPLES - len(self._heights)])
        if len(self._heights) < SAMPLES:
            return None
        self.done = True
        scale = 1.0 if input_size is None else input_size / max(frame_size)
        head = float(np.median(self._heights)) * HEAD_SHARE
        if head * scale >= self.min_px:
            return None
        width, height = frame_size
        return (
            f"camera {self.camera}: heads are about {head:.0f} px in the frame and {head * scale:.0f} px "
            f"at the model's input ({input_size} px for {width}x{height}), under model.min_input_head_px = "
            f"{self.min_px:g}: the model cannot tell a hat from a bare head at that size; raise "
            "model.imgsz (or set it to 'auto')"
        )
