"""Which person wears which item, decided for the whole frame at once.

Each item or violation box (a hard hat, a vest, a bare head) goes to at most one person: a box counts for
a person only when at least ``min_overlap`` of it lies in that person's body region, and among the
people it could belong to, a global assignment (``daemon/assignment.py``) gives it to the one it fits
best — its centre under the middle of the region and, for head items, its top at the person's top.
Where two workers overlap, the bare head of the one behind lies inside the head region of the one in
front too; fitting by position gives it to its owner only, instead of to both. Regions that hold one
item per person (head, upper body) are assigned one-to-one; the whole body may hold several.

A one-item region may have more candidates than the assignment can place: a detector that finds both a
hat and a bare head on one head (its non-maximum suppression works per class) leaves one of the two
over. ``rivals`` names, for each item left over, the person it fits best, so that the rule can weigh
the contradiction by confidence instead of letting the better fitting box win by geometry alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..assignment import gated_assignment
from ..geometry import coverage_matrix

FloatArray = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]

INFEASIBLE = 1e6
"""Cost of a pair that may not be made (the item is not in the region)."""
GATE = 10.0
"""Largest cost of a made pair: every feasible pair costs less (offsets are capped)."""


def fit_cost(regions: FloatArray, items: FloatArray, *, top_aligned: bool) -> FloatArray:
    """(people, items) cost of giving each item to each person: the item centre's horizontal offset
    from the region's middle in region widths, plus (for head items) its top's vertical offset from
    the region's top in region heights; each term capped at 2."""
    rw = np.maximum(regions[:, 2] - regions[:, 0], 1e-3)[:, None]
    rh = np.maximum(regions[:, 3] - regions[:, 1], 1e-3)[:, None]
    rcx = ((regions[:, 0] + regions[:, 2]) / 2)[:, None]
    icx = ((items[:, 0] + items[:, 2]) / 2)[None, :]
    cost = np.minimum(np.abs(icx - rcx) / rw, 2.0)
    if top_aligned:
        cost = cost + np.minimum(np.abs(items[None, :, 1] - regions[:, 1:2]) / rh, 2.0)
    return np.asarray(cost, np.float32)


def _cost(regions: FloatArray, items: FloatArray, min_overlap: float, *, top_aligned: bool) -> FloatArray:
    """``fit_cost`` where the item lies in the region, ``INFEASIBLE`` where it does not."""
    feasible = coverage_matrix(regions, items) >= min_overlap
    return np.where(feasible, fit_cost(regions, items, top_aligned=top_aligned), INFEASIBLE)


def associate(
    regions: FloatArray, items: FloatArray, min_overlap: float, *, one_per_person: bool, top_aligned: bool
) -> Ints:
    """For each item, the index of the person (row of ``regions``) it belongs to, or -1."""
    owner = np.full(len(items), -1, np.int64)
    if len(regions) == 0 or len(items) == 0:
        return owner
    cost = _cost(regions, items, min_overlap, top_aligned=top_aligned)
    feasible = cost < INFEASIBLE
    if one_per_person:
        rows, cols, _, _ = gated_assignment(cost, GATE)
        owner[cols] = rows
    else:
        best = cost.argmin(axis=0)
        ok = feasible[best, np.arange(len(items))]
        owner[ok] = best[ok]
    return owner


def rivals(
    regions: FloatArray, items: FloatArray, owner: Ints, min_overlap: float, *, top_aligned: bool
) -> Ints:
    """For each item the one-to-one ``associate`` left without a person, the person it fits best
    (-1 for assigned items and for items in nobody's region). Such a person always got another item:
    the assignment leaves an item over only where every person it could go to is taken."""
    best = np.full(len(items), -1, np.int64)
    left = np.flatnonzero(owner < 0)
    if len(regions) == 0 or len(left) == 0:
        return best
    cost = _cost(regions, items[left], min_overlap, top_aligned=top_aligned)
    fits = cost.argmin(axis=0)
    ok = cost[fits, np.arange(len(left))] < INFEASIBLE
    best[left[ok]] = fits[ok]
    return best
