"""Optimal assignment with a cost gate: track-to-detection matching (trackers) and item-to-person
association (the PPE rule)."""

from __future__ import annotations

import lap
import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]


def gated_assignment(cost: npt.NDArray[np.floating], limit: float) -> tuple[Ints, Ints, Ints, Ints]:
    """Minimum-cost matching in which no pair costing more than ``limit`` is made.

    Solved as the extended problem in which every row and column may instead pair with a dummy at
    ``limit / 2``, so leaving two items unmatched (``limit``) beats any pair above the gate: the
    semantics ByteTrack uses. The Jonker-Volgenant solver (``lap``) is used because it solves these
    sparse, gated problems several times faster than ``scipy.optimize.linear_sum_assignment`` on the
    extended matrix (measured by ``bench/tracker.py`` at 200 detections per frame).

    Returns ``(rows, cols, unmatched_rows, unmatched_cols)``.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.arange(n), np.arange(m))
    _, x, y = lap.lapjv(np.ascontiguousarray(cost, np.float64), extend_cost=True, cost_limit=limit)
    rows = np.flatnonzero(x >= 0)
    cols = x[rows].astype(np.int64)
    return rows.astype(np.int64), cols, np.flatnonzero(x < 0), np.flatnonzero(y < 0)
