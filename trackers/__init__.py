"""Multi-object trackers, one instance per camera, behind the ``Tracker`` interface."""

from __future__ import annotations

from sitewatch.daemon.config import TrackerConfig

from .base import Tracker
from .bytetrack import ByteTracker
from .iou import IouTracker

__all__ = ["ByteTracker", "IouTracker", "Tracker", "create_tracker"]


def create_tracker(cfg: TrackerConfig) -> Tracker:
    if cfg.kind == "bytetrack":
        return ByteTracker(
            high_thresh=cfg.high_thresh,
            low_thresh=cfg.low_thresh,
            new_track_thresh=cfg.new_track_thresh,
            match_thresh=cfg.match_thresh,
            lost_seconds=cfg.lost_seconds,
        )
    if cfg.kind == "iou":
        return IouTracker(cfg.iou_threshold, cfg.min_hits, cfg.max_lost_seconds)
    raise ValueError(f"unknown tracker {cfg.kind!r}")  # pragma: no cover - config admits no other
