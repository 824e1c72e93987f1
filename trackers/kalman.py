"""A constant-velocity Kalman filter on ``(cx, cy, w, h)`` box states, batched and time-based.

The noise model is ByteTrack's (noise proportional to box size), expressed per second: velocities are in
pixels per second, and process noise grows with the elapsed time relative to ``ref_interval``. At a
frame interval equal to ``ref_interval`` one step equals one step of the frame-based filter.

Width and height are filtered independently (as in BoT-SORT) rather than as aspect ratio and height
(ByteTrack): ByteTrack's filter trusts its first aspect ratio so much that a person who enters at the
frame edge, with a box cut narrow by the border, keeps a narrow box for seconds and loses crossings
to wider neighbours.

States are ``(N, 8)`` means ``cx, cy, w, h, vcx, vcy, vw, vh`` and ``(N, 8, 8)`` covariances.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def xyxy_to_xywh(boxes: npt.NDArray[np.floating]) -> F64:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w, h], axis=1)


def xywh_to_xyxy(xywh: F64) -> npt.NDArray[np.float32]:
    cx, cy, w, h = xywh[:, 0], xywh[:, 1], xywh[:, 2], xywh[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


class KalmanXYWH:
    def __init__(
        self, ref_interval: float = 1 / 30, std_position: float = 1 / 20, std_velocity: float = 1 / 160
    ):
        self.ref = ref_interval
        self.wp = std_position
        self.wv = std_velocity

    def _scale(self, wh: F64) -> F64:
        """``(N, 4)`` the size each coordinate's noise is proportional to: w, h, w, h."""
        return np.concatenate([wh, wh], axis=1)

    def initiate(self, measurement: F64) -> tuple[F64, F64]:
        """New states at the measured boxes, at rest, with ByteTrack's initial uncertainty."""
        n = len(measurement)
        mean = np.zeros((n, 8))
        mean[:, :4] = measurement
        s = self._scale(measurement[:, 2:4])
        std = np.concatenate([2 * self.wp * s, 10 * self.wv * s / self.ref], axis=1)
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
        s = self._scale(mean[:, 2:4])
        std = np.concatenate([self.wp * s, self.wv * s / self.ref], axis=1)
        q = np.zeros_like(cov)
        idx = np.arange(8)
        q[:, idx, idx] = std**2 * (dt / self.ref)
        return mean @ motion.T, motion @ cov @ motion.T + q

    def update(self, mean: F64, cov: F64, measurement: F64) -> tuple[F64, F64]:
        """Correct every state with its measured box (rows correspond)."""
        if len(mean) == 0:
            return mean, cov
        r = (self.wp * self._scale(mean[:, 2:4])) ** 2
        s = cov[:, :4, :4].copy()
        idx = np.arange(4)
        s[:, idx, idx] += r
        # gain K = P Hᵀ S⁻¹, computed as solve(S, (P Hᵀ)ᵀ)ᵀ; S is symmetric
        gain = np.linalg.solve(s, cov[:, :4, :]).transpose(0, 2, 1)
        innovation = measurement - mean[:, :4]
        mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        cov = cov - gain @ s @ gain.transpose(0, 2, 1)
        return mean, cov
