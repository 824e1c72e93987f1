"""The detector interface, and the class-to-label mapping every backend shares."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from ..config import ModelConfig
from ..types import Detections, Frame

log = logging.getLogger(__name__)


class InferenceUnavailable(Exception):
    """A remote inference server did not answer (or answered with an error) after the retries; the
    message says why in one line. The pipeline drops the batch and backs off (daemon/outage.py)."""


class Detector(ABC):
    """Runs a model on a batch of frames (from any cameras) and returns one ``Detections`` per frame.

    ``labels`` are the canonical labels it can produce (after the config's renaming and filtering); the
    config's rules are checked against them before the daemon starts.
    """

    name: str
    labels: frozenset[str]
    runtime: str = "torch"
    device: str = "cpu"
    """What runs the model (``openvino``, ``onnxruntime``, ``tensorrt``, ``torch``, ``scripted``)."""
    unknown_sources: Sequence[str] = ()
    """Keys of the config's ``labels`` map that name no class of the model (typos, reported as errors)."""

    @abstractmethod
    def detect(self, frames: Sequence[Frame]) -> list[Detections]: ...

    def input_size(self, frame_size: tuple[int, int]) -> int | None:
        """The long side, in pixels, a frame of this size is scaled to for the model (None: unscaled)."""
        return None

    def warm_up(self, frame_size: tuple[int, int]) -> None:
        """One inference on a grey frame of ``frame_size`` so first-use work (lazy imports, kernel
        selection, memory pools, CUDA context) is done before the pipeline reports ready, not on the first
        camera frames."""
        w, h = frame_size
        self.detect([Frame("warm-up", 0, 0.0, np.full((h, w, 3), 114, np.uint8))])

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release the model."""


def log_loaded(detector: Detector, half: bool, what: str, detail: str) -> None:
    """The one INFO line every backend logs once its model is loaded."""
    fp16 = " (fp16)" if half else ""
    log.info("%s %s loaded on %s%s; %s", what, detector.name, detector.device, fp16, detail)


def auto_size(long_side: int, train_size: int) -> int:
    """``imgsz = "auto"``: the camera's own long side rounded up to 32, at most twice the training size
    (beyond that a model sees objects far larger than it learned; tile instead)."""
    return max(32, min(-(-long_side // 32) * 32, 2 * train_size))


class YoloDetector(Detector):
    """A YOLO model sized by ``model.imgsz``: a fixed size, or ``auto`` from the frame and training size."""

    _cfg: ModelConfig
    train_imgsz: int

    def _size(self, long_side: int) -> int:
        return auto_size(long_side, self.train_imgsz) if self._cfg.imgsz == "auto" else self._cfg.imgsz

    def input_size(self, frame_size: tuple[int, int]) -> int | None:
        return self._size(max(frame_size))


class LabelMap:
    """Maps a model's class ids to canonical labels, and says which ids to keep, as lookup arrays.

    Built once per model so each frame is mapped with two array indexings, whatever the class count.
    """

    def __init__(self, names: Mapping[int, str], cfg: ModelConfig) -> None:
        size = max(names, default=-1) + 1
        self.canonical: npt.NDArray[np.str_] = np.array(
            [cfg.labels.get(names.get(i, str(i)), names.get(i, str(i))) for i in range(size)], dtype=np.str_
        )
        wanted = set(cfg.classes)
        self.keep = np.array([not wanted or lab in wanted for lab in self.canonical.tolist()], bool)
        self.labels = frozenset(lab for lab, k in zip(self.canonical.tolist(), self.keep, strict=True) if k)
        unknown = sorted(set(cfg.labels) - set(names.values()))
        self.unknown_sources = unknown
        """``model.labels`` keys that name no class of the model (a typo the CLI reports)."""

    def apply(
        self,
        xyxy: npt.NDArray[np.float32],
        confidence: npt.NDArray[np.float32],
        class_id: npt.NDArray[np.int64],
    ) -> Detections:
        class_id = np.clip(class_id, 0, len(self.canonical) - 1)
        keep = self.keep[class_id]
        return Detections(
            xyxy=np.ascontiguousarray(xyxy[keep], np.float32),
            confidence=np.ascontiguousarray(confidence[keep], np.float32),
            label=self.canonical[class_id[keep]],
        )
