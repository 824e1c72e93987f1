"""A YOLO network on any runtime session, with the daemon's own batch pre- and post-processing:
letterbox into a reused buffer, one inference for the batch, vectorised decoding.

This replaces ``YOLO.predict`` on the hot path. Ultralytics' predictor letterboxes, normalises and
post-processes each image in Python and through torch; on a 2-core CPU that costs as much as the network,
and on a GPU it is CPU work the GPU waits for (docs/performance.md). The geometry matches Ultralytics'
exactly; exports are checked against the torch model before they are trusted
(``daemon/detectors/export_cache.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config import ModelConfig
from ..types import Detections, Frame
from .base import LabelMap, YoloDetector
from .letterbox import BatchLetterbox, unplace
from .runtimes import ModelInfo, OnnxRuntimeSession, OpenVinoSession, Session

log = logging.getLogger(__name__)


def open_session(runtime: str, files: Mapping[str, Path], cfg: ModelConfig, device: str) -> Session:
    """Load an exported model's files for ``runtime``."""
    if runtime == "openvino":
        return OpenVinoSession(files["xml"], cfg.threads)
    if runtime == "onnxruntime":
        return OnnxRuntimeSession(files["onnx"], cfg.threads, device)
    raise ValueError(f"no session for runtime {runtime!r}")


class BatchedDetector(YoloDetector):
    """Runs a detection network through a ``Session``."""

    def __init__(
        self,
        cfg: ModelConfig,
        session: Session,
        *,
        runtime: str,
        info: ModelInfo,
        device: str = "cpu",
    ) -> None:
        self._cfg = cfg
        self._session = session
        self.runtime = runtime
        self.device = device
        self.name = Path(cfg.path).name
        self._end2end = info.end2end
        self._letterbox = BatchLetterbox(info.stride)
        self._map = LabelMap(info.names, cfg)
        self.labels = self._map.labels
        self.unknown_sources = self._map.unknown_sources
        self.train_imgsz = info.train_imgsz

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        long_side = max(max(f.image.shape[:2]) for f in frames)
        batch, placements = self._letterbox([f.image for f in frames], self._size(long_side))
        boxes = self._session.detect(batch, self._cfg.min_confidence, self._end2end)
        out = []
        for raw, placement in zip(boxes, placements, strict=True):
            out.append(self._map.apply(unplace(raw.xyxy, placement), raw.confidence, raw.class_id))
        return out
