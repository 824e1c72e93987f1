"""Bounded frame queues between the camera producers and the one inference worker.

Each camera has its own bounded queue with one of two policies:

- ``latest`` (live cameras): a full queue drops its oldest frame, so detection always sees the freshest
  picture and a slow detector never makes a live camera fall further and further behind;
- ``block`` (files): a full queue makes the producer wait, so no frame of a file is skipped.

The consumer takes frames from all cameras at once, round-robin so no camera starves, to form a batch.
One condition variable serves every queue, so the consumer wakes on a frame from any camera.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from .types import Frame

Policy = Literal["latest", "block"]


@dataclass(slots=True)
class _CameraQueue:
    capacity: int
    policy: Policy
    frames: deque[Frame] = field(default_factory=deque)
    dropped: int = 0


class FrameHub:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, _CameraQueue] = {}
        self._rotation = 0

    def add_camera(self, name: str, capacity: int, policy: Policy) -> None:
        with self._cond:
            self._queues[name] = _CameraQueue(capacity, policy)

    def remove_camera(self, name: str) -> None:
        """Forget a camera and its queued frames; a producer blocked on it is released."""
        with self._cond:
            self._queues.pop(name, None)
            self._cond.notify_all()

    def put(self, frame: Frame, stop: threading.Event) -> bool:
        """Queue a frame. Returns False if it was not queued because ``stop`` was set or the camera
        was removed while waiting for room."""
        with self._cond:
            q = self._queues.get(frame.camera)
            while q is not None and len(q.frames) >= q.capacity:
                if q.policy == "latest":
                    q.frames.popleft()
                    q.dropped += 1
                    break
                if stop.is_set():
                    return False
                self._cond.wait(0.1)
                q = self._queues.get(frame.camera)
            if q is None:
                return False
            q.frames.append(frame)
            self._cond.notify_all()
            return True

    def take_batch(self, max_batch: int, max_wait: float, timeout: float) -> list[Frame]:
        """Up to ``max_batch`` frames across cameras, oldest first per camera.

        Waits up to ``timeout`` seconds for a first frame, then up to ``max_wait`` more for the batch to
        fill. Returns an empty list on timeout.
        """
        deadline = time.monotonic() + timeout
        batch: list[Frame] = []
        with self._cond:
            while not self._any():
                left = deadline - time.monotonic()
                if left <= 0:
                    return batch
                self._cond.wait(left)
            fill_deadline = time.monotonic() + max_wait
            while True:
                self._collect(batch, max_batch)
                self._cond.notify_all()  # room was made: wake producers blocked on a full queue
                left = fill_deadline - time.monotonic()
                if len(batch) >= max_batch or left <= 0:
                    break
                self._cond.wait(left)
        return batch

    def _any(self) -> bool:
        return any(q.frames for q in self._queues.values())

    def _collect(self, batch: list[Frame], max_batch: int) -> None:
        queues = list(self._queues.values())
        if not queues:
            return
        n = len(queues)
        start = self._rotation % n
        self._rotation += 1
        order = queues[start:] + queues[:start]
        while len(batch) < max_batch and any(q.frames for q in order):
            for q in order:
                if q.frames and len(batch) < max_batch:
                    batch.append(q.frames.popleft())

    def pending(self) -> int:
        with self._cond:
            return sum(len(q.frames) for q in self._queues.values())

    def depth(self, name: str) -> int:
        """Frames of this camera waiting for the detector."""
        with self._cond:
            q = self._queues.get(name)
            return len(q.frames) if q is not None else 0

    def dropped(self, name: str) -> int:
        with self._cond:
            q = self._queues.get(name)
            return q.dropped if q is not None else 0
