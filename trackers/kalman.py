"""A constant-velocity Kalman filter on ``(cx, cy, aspect, height)`` box states, batched and time-based.

The noise model is ByteTrack's (noise proportional to box height), expressed per second: velocities are
in pixels per second, and process noise grows with the elapsed time relative to ``ref_interval``. At a
frame interval equal to ``ref_interval`` it reproduces the frame-based filter of ByteTrack exactly; at
other rates (5 fps, skipped frames) the same physical motion gives the same predictions.

States are ``(N, 8)`` means ``cx, cy, a, h, vcx, vcy, va, vh`` and ``(N, 8, 8)`` covariances.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def xyxy_to_xyah(boxes: npt.NDArray[np.floating]) -> F64:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w / h, h], axis=1)


def xyah_to_xyxy(xyah: F64) -> npt.NDArray[np.float32]:
    cx, cy, a, h = xyah[:, 0], xyah[:, 1], xyah[:, 2], xyah[:, 3]
    w = a * h
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


class KalmanXYAH:
    def __init__(
        self, ref_interval: float = 1 / 30, std_position: float = 1 / 20, std_velocity: float = 1 / 160
    ):
        self.ref = ref_interval
        self.wp = std_position
        self.wv = std_velocity

    def initiate(self, measurement: F64) -> tuple[F64, F64]:
        """New states at the measured boxes, at rest, with ByteTrack's initial uncertainty."""
        n = len(measurement)
        mean = np.zeros((n, 8))
        mean[:, :4] = measurement
        h = measurement[:, 3]
        ones = np.ones(n)
        std = np.stack(
            [
                2 * self.wp * h, 2 * self.wp * h, 1e-2 * ones, 2 * self.wp * h,
                10 * self.wv * h / self.ref, 10 * self.wv * h / self.ref, 1e-5 / self.ref * ones,
                10 * self.wv * h / self.ref,
            ],
            axis=1,
        )  # fmt: skip
        cov = np.zeros((n, 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def predict(self, mean: F64, cov: F64, dt: float) -> tuple[F64, F64]:
        """Advance every state by ``dt`` seconds."""
        if len(mean) == 0 or dt <= 0:
            return mean, cov
        motion = np.eye(8)
        motion[np.arange(4), np.arange(4) + 4] = dt
        h = mean[:, 3]
        ones = np.ones(len(mean))
        std = np.stack(
            [
                self.wp * h, self.wp * h, 1e-2 * ones, self.wp * h,
                self.wv * h / self.ref, self.wv * h / self.ref,
                1e-5 / self.ref * ones, self.wv * h / self.ref,
            ],
            axis=1,
        )  # fmt: skip
        q = np.zeros_like(cov)
        idx = np.arange(8)
        q[:, idx, idx] = std**2 * (dt / self.ref)
        return mean @ motion.T, motion @ cov @ motion.T + q

    def update(self, mean: F64, cov: F64, measurement: F64) -> tuple[F64, F64]:
        """Correct every state with its measured box (rows correspond)."""
        if len(mean) == 0:
            return mean, cov
        h = mean[:, 3]
        r = np.stack([self.wp * h, self.wp * h, np.full(len(h), 1e-1), self.wp * h], axis=1) ** 2
        s = cov[:, :4, :4].copy()
        idx = np.arange(4)
        s[:, idx, idx] += r
        # gain K = P Hᵀ S⁻¹, computed as solve(S, (P Hᵀ)ᵀ)ᵀ; S is symmetric
        gain = np.linalg.solve(s, cov[:, :4, :]).transpose(0, 2, 1)
        innovation = measurement - mean[:, :4]
        mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        cov = cov - gain @ s @ gain.transpose(0, 2, 1)
        return mean, cov
