"""Multi-object trackers, one instance per camera, behind the ``Tracker`` interface."""

from __future__ import annotations

from daemon.config import TrackerConfig

from .base import Tracker
from .iou import IouTracker

__all__ = ["IouTracker", "Tracker", "create_tracker"]


def create_tracker(cfg: TrackerConfig) -> Tracker:
    if cfg.kind == "iou":
        return IouTracker(cfg.iou_threshold, cfg.min_hits, cfg.max_lost_seconds)
    raise ValueError(f"unknown tracker {cfg.kind!r}")  # pragma: no cover - config admits no other
