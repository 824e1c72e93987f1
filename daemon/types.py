"""The data that flows through the pipeline: frames, detections and tracks.

Detections and tracks are struct-of-arrays (numpy) because the tracker and the rules work on them as a
whole; a frame holds one decoded image. All boxes are ``xyxy`` in pixels of the frame they came from.
All times are seconds (``float``) on the camera's clock: wall-clock UNIX time for live sources, and for
files the wall time at which decoding started plus the frame's presentation time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

BoxArray = npt.NDArray[np.float32]
"""``(N, 4)`` float32 boxes as ``x1, y1, x2, y2`` in pixels."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded image from one camera.

    ``index`` counts frames the source produced, from 0, monotonically across reconnects and file loops.
    ``ts`` is the capture time in seconds (see the module docstring); ``media_ts`` the time in the file.
    """

    camera: str
    index: int
    ts: float
    image: npt.NDArray[np.uint8] = field(repr=False)
    media_ts: float | None = None
    """Files: seconds into the file (its presentation time, continued across loops); None for live
    cameras, whose ``ts`` is the capture time."""
    decoded_at: float = 0.0
    """``time.monotonic()`` when the producer decoded it: where frame-to-event latency starts."""
    motion: float | None = None
    """Share of the picture that moved since the background (cameras with ``motion_gate``; else None)."""

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        h, w = self.image.shape[:2]
        return int(w), int(h)


@dataclass(frozen=True, slots=True)
class Detections:
    """The objects a detector found in one frame, with canonical labels (after the model's label map)."""

    xyxy: BoxArray
    confidence: npt.NDArray[np.float32]
    label: npt.NDArray[np.str_]

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4) or len(self.confidence) != n or len(self.label) != n:
            raise ValueError(
                f"inconsistent detections: xyxy {self.xyxy.shape}, confidence {self.confidence.shape}, "
                f"label {self.label.shape}"
            )

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            label=np.zeros(0, dtype="<U1"),
        )

    @classmethod
    def from_rows(cls, rows: list[tuple[float, float, float, float, float, str]]) -> Detections:
        """Build from ``(x1, y1, x2, y2, confidence, label)`` rows; handy for scripts and tests."""
        if not rows:
            return cls.empty()
        return cls(
            xyxy=np.array([r[:4] for r in rows], np.float32).reshape(-1, 4),
            confidence=np.array([r[4] for r in rows], np.float32),
            label=np.array([r[5] for r in rows], dtype=np.str_),
        )


@dataclass(frozen=True, slots=True)
class Tracks:
    """Confirmed tracks seen in one frame. ``track_id`` is unique per camera and never reused.

    ``xyxy`` is the box of the detection that continued the track in this frame (measured, not smoothed);
    ``detection`` is that detection's index in the frame's ``Detections``.
    """

    track_id: npt.NDArray[np.int64]
    xyxy: BoxArray
    confidence: npt.NDArray[np.float32]
    label: npt.NDArray[np.str_]
    detection: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.track_id)

    @classmethod
    def empty(cls) -> Tracks:
        return cls(
            track_id=np.zeros(0, np.int64),
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            label=np.zeros(0, dtype="<U1"),
            detection=np.zeros(0, np.int64),
        )


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What a tracker reports after one frame.

    ``tracks`` are the confirmed tracks matched in this frame; ``removed`` are the ids of confirmed tracks
    the tracker gave up on in this update (their objects left or stayed hidden past the lost buffer).
    """

    tracks: Tracks
    removed: tuple[int, ...] = ()
