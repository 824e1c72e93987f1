"""The one retry policy: exponential backoff with jitter.

Cameras that drop out, an MQTT broker that is down, a sink whose disk is full and a worker thread that
crashed all wait the same way: 1 s doubling to a cap, each wait jittered by ±20 % so that many cameras
(or many daemons) that failed together do not retry together. ``reset`` starts again from the first
wait once the thing has worked for a while.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    start: float = 1.0
    """First wait, seconds."""
    maximum: float = 30.0
    """Longest wait, seconds."""
    factor: float = 2.0
    jitter: float = 0.2
    """Each wait is multiplied by a random factor in ``1 ± jitter``."""
    _next: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._next = self.start

    def next(self) -> float:
        """The wait before the next attempt (and the following one is longer)."""
        wait = self._next * random.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        self._next = min(self._next * self.factor, self.maximum)
        return wait

    def reset(self) -> None:
        self._next = self.start
