"""Object detectors behind one interface; ``create_detector`` picks the backend named in the config."""

from __future__ import annotations

from ..config import ModelConfig
from .base import Detector, LabelMap

__all__ = ["Detector", "LabelMap", "create_detector"]


def create_detector(cfg: ModelConfig) -> Detector:
    """Load the configured model (imports the heavy backend only when it is used)."""
    if cfg.backend == "scripted":
        from .scripted import ScriptedDetector

        return ScriptedDetector(cfg)
    from .ultralytics import UltralyticsDetector

    return UltralyticsDetector(cfg)
