"""Inference runtimes for exported YOLO models, and which one ``model.runtime = "auto"`` picks.

A session takes the letterboxed batch exactly as ``BatchLetterbox`` leaves it — ``(N, H, W, 3)`` uint8
BGR — and returns the model's raw output. OpenVINO does the conversion to normalised RGB planes inside
the compiled graph (its preprocessing API), so the CPU path has no float copy of the batch in Python;
ONNX Runtime gets it from one numpy ufunc into a reused buffer.

Why these choices, measured on this project's 2-core reference machine (bench/, docs/performance.md):
OpenVINO ran the same network about 2x faster than ONNX Runtime and 4x faster than ``YOLO.predict``
in torch, so ``auto`` prefers it on CPUs; on CUDA, TensorRT when it is installed, else torch in fp16.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .yolo_decode import RawBoxes, decode, decode_torch

RUNTIMES = ("torch", "onnxruntime", "openvino", "tensorrt")
LIBRARY_HINT = {
    "torch": "pip install torch",
    "openvino": "pip install openvino",
    "onnxruntime": "pip install 'sitewatch[onnx]'",
    "tensorrt": "install TensorRT for this CUDA version",
}


class Session(Protocol):
    """A loaded network: a letterboxed uint8 BGR batch in, each image's boxes (input pixels) out."""

    def detect(self, batch: npt.NDArray[np.uint8], conf: float, end2end: bool) -> list[RawBoxes]: ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What decoding and sizing need to know of a network, whichever runtime holds it."""

    names: dict[int, str]
    end2end: bool
    """An NMS-free head (YOLO26, YOLOv10): outputs are final boxes."""
    stride: int
    train_imgsz: int


@dataclass(frozen=True, slots=True)
class RuntimeChoice:
    runtime: str
    reason: str


def installed(runtime: str) -> bool:
    """Whether ``runtime``'s library is importable (without importing it)."""
    modules = ("onnxruntime", "onnx") if runtime == "onnxruntime" else (runtime,)  # onnx: to export
    return all(importlib.util.find_spec(m) is not None for m in modules)


def choose_runtime(requested: str, device: str) -> RuntimeChoice:
    """The runtime to use for ``requested`` (``auto`` or one of ``RUNTIMES``) on ``device`` (already
    resolved: ``cpu``, ``cuda:N`` or ``mps``), and why, for the log."""
    if requested != "auto":
        return RuntimeChoice(requested, "model.runtime")
    if device.startswith("cuda"):
        if installed("tensorrt"):
            return RuntimeChoice("tensorrt", "auto: CUDA device with TensorRT installed")
        return RuntimeChoice("torch", "auto: CUDA device without TensorRT (torch, fp16)")
    if device != "cpu":
        return RuntimeChoice("torch", f"auto: {device} has no exported runtime here")
    if installed("openvino"):
        return RuntimeChoice("openvino", "auto: fastest installed CPU runtime")
    if installed("onnxruntime"):
        return RuntimeChoice("onnxruntime", "auto: OpenVINO not installed; ONNX Runtime is")
    return RuntimeChoice("torch", "auto: neither OpenVINO nor ONNX Runtime is installed")


def cpu_threads(requested: int) -> int:
    """Inference threads: ``requested``, or (0) every core this process may run on."""
    if requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class OpenVinoSession:
    """An OpenVINO IR model compiled for the CPU, uint8 BGR NHWC in, preprocessing in the graph."""

    def __init__(self, xml: Path, threads: int) -> None:
        import openvino as ov
        from openvino.preprocess import ColorFormat, PrePostProcessor

        core = ov.Core()
        model = core.read_model(str(xml))
        ppp = PrePostProcessor(model)
        tensor = ppp.input().tensor()
        tensor.set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
        compiled = core.compile_model(
            ppp.build(),
            "CPU",
            {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": cpu_threads(threads)},
        )
        self._request: Any = compiled.create_infer_request()
        self.version = ov.__version__

    def detect(self, batch: npt.NDArray[np.uint8], conf: float, end2end: bool) -> list[RawBoxes]:
        self._request.infer([np.ascontiguousarray(batch)], share_inputs=True)
        # the request's own memory, valid until the next inference: decoded now
        return decode(self._request.get_output_tensor(0).data, conf, end2end)


class OnnxRuntimeSession:
    """An ONNX model in ONNX Runtime (CUDA provider first when the device is CUDA and it has one)."""

    def __init__(self, path: Path, threads: int, device: str = "cpu") -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads(threads)
        options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        self._input = self._session.get_inputs()[0].name
        self._float: npt.NDArray[np.float32] = np.empty((0, 3, 0, 0), np.float32)
        self.version = ort.__version__

    def detect(self, batch: npt.NDArray[np.uint8], conf: float, end2end: bool) -> list[RawBoxes]:
        n, h, w, _ = batch.shape
        if self._float.shape != (n, 3, h, w):
            self._float = np.empty((n, 3, h, w), np.float32)
        np.multiply(batch[..., ::-1].transpose(0, 3, 1, 2), np.float32(1 / 255), out=self._float)
        return decode(self._session.run(None, {self._input: self._float})[0], conf, end2end)


class UltralyticsSession:
    """A ``.pt`` model in torch, or a TensorRT engine, through Ultralytics' ``AutoBackend`` (which loads,
    fuses and binds them), fed the daemon's batch instead of ``YOLO.predict``'s per-image pipeline.

    On CUDA the uint8 batch goes up once through a reused pinned buffer with a non-blocking copy, becomes
    normalised fp16 RGB planes on the GPU, and non-maximum suppression runs there too: only the kept
    boxes come back to the CPU.
    """

    def __init__(self, path: Path, device: str, half: bool) -> None:
        import torch
        from ultralytics.nn.autobackend import AutoBackend

        self._torch = torch
        self.device = torch.device(device)
        self.half = half and self.device.type == "cuda"
        self._backend = AutoBackend(str(path), device=self.device, fp16=self.half, verbose=False)
        self._backend.eval()
        # an engine's precision is its own (the binding's type), whatever was asked
        self.half = bool(getattr(self._backend, "fp16", self.half)) and self.device.type == "cuda"
        args = getattr(getattr(self._backend, "model", None), "args", None)  # a .pt's training arguments
        size = args.get("imgsz") if isinstance(args, dict) else getattr(self._backend, "imgsz", None)
        size = max(size) if isinstance(size, (list, tuple)) else size
        self.info = ModelInfo(
            names={int(k): str(v) for k, v in self._backend.names.items()},
            end2end=bool(getattr(self._backend, "end2end", False)),
            stride=int(max(getattr(self._backend, "stride", 32) or 32, 32)),
            train_imgsz=int(size) if isinstance(size, (int, float)) and size > 0 else 640,
        )
        self._pinned: Any = None
        self.version = torch.__version__

    def _upload(self, batch: npt.NDArray[np.uint8]) -> Any:
        host = self._torch.from_numpy(np.ascontiguousarray(batch))
        if self.device.type != "cuda":
            return host
        n = host.shape[0]
        if self._pinned is None or self._pinned.shape[1:] != host.shape[1:] or self._pinned.shape[0] < n:
            self._pinned = self._torch.empty(tuple(host.shape), dtype=self._torch.uint8).pin_memory()
        staged = self._pinned[:n]
        staged.copy_(host)
        return staged.to(self.device, non_blocking=True)

    def detect(self, batch: npt.NDArray[np.uint8], conf: float, end2end: bool) -> list[RawBoxes]:
        with self._torch.inference_mode():
            x = self._upload(batch).permute(0, 3, 1, 2).flip(1)  # NHWC BGR -> NCHW RGB
            x = (x.half() if self.half else x.float()).div_(255)
            out = self._backend(x)
            out = out[0] if isinstance(out, (list, tuple)) else out
            return decode_torch(out, conf, end2end)
