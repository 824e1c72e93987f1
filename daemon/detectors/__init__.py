"""Object detectors behind one interface; ``create_detector`` picks the backend named in the config."""

from __future__ import annotations

from ..config import Config, ConfigError, ModelConfig, build, check_labels
from .base import Detector, InferenceUnavailable, LabelMap

__all__ = ["Detector", "InferenceUnavailable", "LabelMap", "create_detector", "load_detector"]


def create_detector(cfg: ModelConfig) -> Detector:
    """Load the configured model (imports the heavy backend only when it is used)."""
    detector: Detector
    if cfg.backend == "scripted":
        from .scripted import ScriptedDetector

        detector = ScriptedDetector(cfg)
    elif cfg.backend == "transformers":
        from .hf import TransformersDetector

        detector = TransformersDetector(cfg)
    elif cfg.backend == "remote":
        from .remote import RemoteDetector

        detector = RemoteDetector(cfg)
    elif cfg.backend == "zero_shot":
        from .hf import ZeroShotDetector

        detector = ZeroShotDetector(cfg)
    else:
        from .yolo import create_yolo_detector

        detector = create_yolo_detector(cfg)
    if tuple(cfg.tiles) != (1, 1):
        from .slicing import SlicingDetector

        cols, rows = cfg.tiles
        detector = SlicingDetector(detector, cols, rows, cfg.tile_overlap, cfg.tile_full_frame)
    return detector


def load_detector(config: Config) -> Detector:
    """Load the configured model and check every label the config names against it. Any failure is a
    ConfigError naming its key (``model.path``, ``model.device``, ``model.labels``, a rule's labels)."""
    detector = build("model.path", lambda: create_detector(config.model))
    unknown = detector.unknown_sources
    if unknown:
        raise ConfigError(
            [f"model.labels: {', '.join(map(repr, unknown))} is not a class of the model {detector.name}"]
        )
    check_labels(config, detector.labels)
    return detector
