"""Ultralytics YOLO backend: any local model file ``YOLO()`` loads (.pt, .onnx, .engine, ...)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError, ModelConfig
from ..types import Detections, Frame
from .base import LabelMap, YoloDetector, log_loaded

log = logging.getLogger(__name__)


def nvidia_driver() -> bool:
    """Whether an NVIDIA driver is loaded (without it CUDA cannot be available)."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def resolve_device(device: str, half: bool | None) -> tuple[str, bool]:
    """``auto`` → ``cuda:0`` with fp16 when CUDA is available, else ``cpu`` in fp32. A device this
    machine does not have is a ConfigError (it would otherwise fail every batch)."""
    if device == "cpu" or (device == "auto" and not nvidia_driver()):
        return "cpu", False  # decided without importing torch (an exported runtime may never need it)
    import torch

    if device == "auto":
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    elif device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                [f"model.device: {device!r} but CUDA is not available on this machine "
                 f"(torch {torch.__version__}); use 'auto' or 'cpu'"]
            )  # fmt: skip
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(
                [f"model.device: {device!r} but this machine has {torch.cuda.device_count()} CUDA device(s)"]
            )
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(["model.device: 'mps' is not available on this machine; use 'auto' or 'cpu'"])
    on_gpu = device.startswith("cuda")
    return device, (on_gpu if half is None else half and on_gpu)


def first_line(exc: BaseException) -> str:
    """Ultralytics' errors span lines and carry emoji; the first line, plainly, is what a person needs."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("ERROR ❌️ ").removeprefix("ERROR ").strip()


def train_size(model: Any) -> int:
    """The image size the model was trained at (its checkpoint's train_args), else Ultralytics' 640."""
    args = (getattr(model, "ckpt", None) or {}).get("train_args") or {}
    size = args.get("imgsz") if isinstance(args, dict) else getattr(args, "imgsz", None)
    size = size or (getattr(model, "overrides", None) or {}).get("imgsz")
    if isinstance(size, (list, tuple)):
        size = max(size)
    return int(size) if isinstance(size, (int, float)) and size > 0 else 640


class UltralyticsDetector(YoloDetector):
    def __init__(self, cfg: ModelConfig) -> None:
        # sitewatch.daemon (imported as this module's parent) has set YOLO_OFFLINE / YOLO_AUTOINSTALL.
        from ultralytics import YOLO  # type: ignore[attr-defined]

        self.device, self.half = resolve_device(cfg.device, cfg.half)
        self._precision: dict[str, Any] = {"quantize": 16} if self.half else {}  # 'half' is deprecated
        self.name = Path(cfg.path).name
        self._cfg = cfg
        try:  # Ultralytics loads some formats lazily (on .task or .names) and raises many types
            self._model = YOLO(cfg.path, task="detect")
            task = self._model.task
            names = dict(self._model.names)
        except Exception as exc:
            raise ConfigError([f"model.path: cannot load model {cfg.path}: {first_line(exc)}"]) from None
        if task != "detect":
            raise ConfigError([f"model.path: {self.name} is a {task} model, not a detector"])
        self._map = LabelMap(names, cfg)
        self.train_imgsz = train_size(self._model)
        self.labels = self._map.labels
        self.unknown_sources = self._map.unknown_sources
        log_loaded(self, self.half, "model", f"labels: {', '.join(sorted(self.labels))}")

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        long_side = max(max(f.image.shape[:2]) for f in frames)
        results: Any = self._model.predict(
            [f.image for f in frames],
            imgsz=self._size(long_side),
            conf=self._cfg.min_confidence,
            device=self.device,
            verbose=False,
            **self._precision,
        )
        out = []
        for r in results:
            boxes = r.boxes
            out.append(
                self._map.apply(
                    boxes.xyxy.cpu().numpy(),
                    boxes.conf.cpu().numpy(),
                    boxes.cls.cpu().numpy().astype(np.int64),
                )
            )
        return out
