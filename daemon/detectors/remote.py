"""A YOLO model on a shared inference server speaking the Open Inference Protocol (KServe v2).

NVIDIA Triton, KServe's model servers, Seldon MLServer and OpenVINO Model Server all serve it, over
REST (``http://``) and gRPC (``grpc://``); ``tritonclient`` speaks both. The client keeps what the local
backend does around the network: frames are letterboxed into one batch across cameras
(``BatchLetterbox``), the server runs only the network, and its raw output is decoded here
(``yolo_decode``), so the same model gives the same boxes locally and remotely.

What goes over the wire is whatever the served model takes, read from the server's model metadata:

* ``UINT8`` ``[N, H, W, 3]`` BGR — the model ``sitewatch export --for triton`` writes, with the
  normalisation inside the graph: a quarter of the bytes of float input;
* ``FP32`` ``[N, 3, H, W]`` RGB in 0..1 — a plain Ultralytics ONNX export.

A batch is split into at most ``max_in_flight`` requests sent at once (the server's dynamic batcher
merges them with other replicas'); each has a timeout and ``retries`` retries with the shared backoff.
When they all fail the batch raises ``InferenceUnavailable``: the pipeline drops those frames, counts
them, shows ``inference_unavailable`` in ``/readyz`` and metrics, and tries the server again after a
backoff (pipeline.py) — frames never pile up behind a dead server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from ..backoff import Backoff
from ..config import ConfigError, ModelConfig, RemoteConfig
from ..redact import register_secret
from ..types import Detections, Frame
from .base import InferenceUnavailable, LabelMap, YoloDetector, log_loaded
from .letterbox import BatchLetterbox, unplace
from .runtimes import ModelInfo
from .yolo_decode import RawBoxes, decode

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServedModel:
    """What the server says of the model: its input and output tensors."""

    input_name: str
    input_datatype: str
    """``UINT8`` (NHWC BGR, normalised in the graph) or ``FP32`` (NCHW RGB 0..1)."""
    output_name: str
    output_shape: tuple[int, ...]


def local_info(path: Path) -> ModelInfo:
    """Classes, head type, stride and training size of the model file the server hosts a copy of: from
    an ONNX export's metadata, or from the ``.pt`` through Ultralytics."""
    if path.suffix.lower() == ".onnx":
        from .export_cache import exported_metadata

        meta = exported_metadata("onnx", path)
        if "names" not in meta:
            raise ConfigError([f"model.path: {path.name} carries no class names (not an Ultralytics export)"])
        imgsz = meta.get("imgsz", 640)
        return ModelInfo(
            names={int(k): str(v) for k, v in meta["names"].items()},
            end2end=bool(meta.get("end2end", False)),
            stride=int(meta.get("stride", 32)),
            train_imgsz=int(max(imgsz) if isinstance(imgsz, (list, tuple)) else imgsz),
        )
    from ultralytics import YOLO  # type: ignore[attr-defined]

    from .ultralytics import first_line, train_size

    try:
        model = YOLO(str(path), task="detect")
        names = dict(model.names)
    except Exception as exc:
        raise ConfigError([f"model.path: cannot load model {path}: {first_line(exc)}"]) from None
    stride = getattr(model.model, "stride", None)
    return ModelInfo(
        names={int(k): str(v) for k, v in names.items()},
        end2end=bool(getattr(model.model, "end2end", False)),
        stride=int(max(32, int(stride.max()) if stride is not None else 32)),
        train_imgsz=train_size(model),
    )


class OipClient:
    """One connection to the server (REST or gRPC), for one thread."""

    def __init__(self, cfg: RemoteConfig, headers: dict[str, str]) -> None:
        split = urlsplit(cfg.url)
        self.grpc = split.scheme in ("grpc", "grpcs")
        secure = split.scheme in ("https", "grpcs")
        where = split.netloc.rpartition("@")[2]
        self.cfg = cfg
        self.headers = headers
        if self.grpc:
            import tritonclient.grpc as grpcclient

            self._mod: Any = grpcclient
            self._client: Any = grpcclient.InferenceServerClient(where, ssl=secure)
        else:
            import tritonclient.http as httpclient

            self._mod = httpclient
            self._client = httpclient.InferenceServerClient(
                where,
                ssl=secure,
                connection_timeout=cfg.timeout_s,
                network_timeout=cfg.timeout_s,
            )

    def metadata(self) -> ServedModel:
        kwargs: dict[str, Any] = {"as_json": True} if self.grpc else {}
        if self.grpc:
            kwargs["client_timeout"] = self.cfg.timeout_s
        meta = self._client.get_model_metadata(
            self.cfg.model_name, self.cfg.model_version, headers=self.headers, **kwargs
        )
        inputs, outputs = meta.get("inputs") or [], meta.get("outputs") or []
        if len(inputs) != 1 or not outputs:
            raise InferenceUnavailable(
                f"model {self.cfg.model_name!r} on the server has {len(inputs)} inputs and {len(outputs)} "
                "outputs; a YOLO detector has one input and one output"
            )
        datatype = str(inputs[0]["datatype"]).upper()
        if datatype not in ("UINT8", "FP32"):
            raise InferenceUnavailable(f"the served model takes {datatype}; sitewatch sends UINT8 or FP32")
        shape = tuple(int(d) for d in outputs[0].get("shape", ()))
        return ServedModel(inputs[0]["name"], datatype, outputs[0]["name"], shape)

    def infer(self, served: ServedModel, tensor: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        tensor_in = self._mod.InferInput(served.input_name, list(tensor.shape), served.input_datatype)
        # REST: raw bytes (the binary tensor extension) instead of JSON numbers; gRPC: always raw, and
        # its timeout is per call (REST's is the connection's)
        binary: dict[str, Any] = {} if self.grpc else {"binary_data": True}
        timeout: dict[str, Any] = {"client_timeout": self.cfg.timeout_s} if self.grpc else {}
        tensor_in.set_data_from_numpy(tensor, **binary)
        result = self._client.infer(
            self.cfg.model_name,
            [tensor_in],
            model_version=self.cfg.model_version,
            outputs=[self._mod.InferRequestedOutput(served.output_name, **binary)],
            headers=self.headers,
            **timeout,
        )
        out = result.as_numpy(served.output_name)
        if out is None:
            raise InferenceUnavailable(f"the server's answer has no output {served.output_name!r}")
        return np.asarray(out, np.float32)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()


def describe_error(exc: BaseException) -> str:
    """One line for a failed request, without the server's stack or headers."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class RemoteDetector(YoloDetector):
    """``model.backend = "remote"``: letterbox and decode here, the network on the server."""

    def __init__(self, cfg: ModelConfig, info: ModelInfo | None = None) -> None:
        if importlib.util.find_spec("tritonclient") is None:
            raise ConfigError(
                [
                    "model.backend: 'remote' needs the Open Inference Protocol client: "
                    "pip install 'sitewatch[remote]'"
                ]
            )
        self._cfg = cfg
        self._remote = cfg.remote
        info = info or local_info(Path(cfg.path))
        self._info = info
        self._map = LabelMap(info.names, cfg)
        self.labels = self._map.labels
        self.unknown_sources = self._map.unknown_sources
        self.train_imgsz = info.train_imgsz
        self.name = Path(cfg.path).name
        self.runtime = "remote"
        split = urlsplit(self._remote.url)
        self.device = f"{split.scheme}://{split.hostname}:{split.port or ''}".rstrip(":")
        self._headers: dict[str, str] = {}
        if self._remote.headers_env:
            value = os.environ.get(self._remote.headers_env)
            if not value:
                raise ConfigError([f"model.remote.headers_env: ${self._remote.headers_env} is not set"])
            register_secret(value)
            self._headers["Authorization"] = value
        self._letterbox = BatchLetterbox(info.stride)
        self._local = threading.local()
        self._clients: list[OipClient] = []
        self._clients_lock = threading.Lock()
        self._served: ServedModel | None = None
        self._pool = ThreadPoolExecutor(self._remote.max_in_flight, thread_name_prefix="oip")
        self._float: npt.NDArray[np.float32] = np.empty((0, 3, 0, 0), np.float32)
        log_loaded(self, False, "remote model", f"{self._remote.url} model {self._remote.model_name!r}")

    # --- the connection ----------------------------------------------------------------------------

    def _client(self) -> OipClient:
        client: OipClient | None = getattr(self._local, "client", None)
        if client is None:
            client = OipClient(self._remote, self._headers)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _served_model(self) -> ServedModel:
        if self._served is None:
            served = self._client().metadata()
            # (N, 4 + classes, anchors), or NMS-free heads (N, max_det, 6); -1: the server does not say
            shape = served.output_shape
            end2end = self._info.end2end
            dim = (shape[2] if end2end else shape[1]) if len(shape) == 3 else -1
            expected = 6 if end2end else 4 + len(self._info.names)
            if dim not in (-1, expected):
                raise InferenceUnavailable(
                    f"the served model's output {served.output_shape} does not fit {self.name} "
                    f"({len(self._info.names)} classes): is model.path the model the server hosts?"
                )
            self._served = served
            log.info(
                "inference server %s: model %r takes %s %s",
                self._remote.url, self._remote.model_name, served.input_datatype, served.input_name,
            )  # fmt: skip
        return self._served

    def _request(self, tensor: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """One inference request, retried; raises InferenceUnavailable."""
        return self._retrying(lambda: self._client().infer(self._served_model(), tensor))

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call`` with ``retries`` retries after the shared backoff; raises InferenceUnavailable."""
        backoff = Backoff(start=0.2, maximum=2.0)
        attempt = 0
        while True:
            try:
                return call()
            except InferenceUnavailable:
                raise
            except Exception as exc:
                self._drop_client()
                if attempt >= self._remote.retries:
                    raise InferenceUnavailable(describe_error(exc)) from None
                attempt += 1
                time.sleep(backoff.next())

    def _drop_client(self) -> None:
        """A failed connection is not reused: the next request opens a fresh one (a restarted server,
        a new address behind the same name)."""
        client = getattr(self._local, "client", None)
        if client is not None:
            self._local.client = None
            with self._clients_lock:
                if client in self._clients:
                    self._clients.remove(client)
            client.close()
        self._served = None

    # --- Detector ----------------------------------------------------------------------------------

    def _tensor(self, batch: npt.NDArray[np.uint8], datatype: str) -> npt.NDArray[Any]:
        if datatype == "UINT8":
            return np.ascontiguousarray(batch)
        n, h, w, _ = batch.shape
        if self._float.shape != (n, 3, h, w):
            self._float = np.empty((n, 3, h, w), np.float32)
        np.multiply(batch[..., ::-1].transpose(0, 3, 1, 2), np.float32(1 / 255), out=self._float)
        return self._float

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        long_side = max(max(f.image.shape[:2]) for f in frames)
        batch, placements = self._letterbox([f.image for f in frames], self._size(long_side))
        served = self._served or self._retrying(self._served_model)
        tensor = self._tensor(batch, served.input_datatype)
        parts = np.array_split(np.arange(len(frames)), min(self._remote.max_in_flight, len(frames)))
        if len(parts) == 1:
            outputs = [self._request(tensor)]
        else:
            futures = [self._pool.submit(self._request, tensor[p[0] : p[-1] + 1]) for p in parts]
            outputs = [f.result() for f in futures]
        boxes: list[RawBoxes] = []
        for output in outputs:
            boxes.extend(decode(output, self._cfg.min_confidence, self._info.end2end))
        return [
            self._map.apply(unplace(raw.xyxy, placement), raw.confidence, raw.class_id)
            for raw, placement in zip(boxes, placements, strict=True)
        ]

    def probe(self) -> str:
        """What the server says of the model, in one line (check-config); raises InferenceUnavailable."""
        served = self._served or self._retrying(self._served_model)
        return (
            f"{self._remote.url} serves {self._remote.model_name!r}: {served.input_datatype} "
            f"{served.input_name} in, {served.output_name} {list(served.output_shape)} out"
        )

    def warm_up(self, frame_size: tuple[int, int]) -> None:
        """Against a server that is not up yet (pods start in any order) warming up only logs: the
        inference loop reports and retries it."""
        try:
            super().warm_up(frame_size)
        except InferenceUnavailable as exc:
            log.warning("inference server %s not answering yet: %s", self._remote.url, exc)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


def served_names(info: ModelInfo) -> str:
    """The class names as the Triton config's parameter carries them (JSON)."""
    return json.dumps({str(k): v for k, v in sorted(info.names.items())}, ensure_ascii=False)
