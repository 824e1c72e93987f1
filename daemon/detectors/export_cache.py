"""Exported models, made once and kept: ``<model.cache_dir>/<model>-<runtime>-<key>/``.

The key hashes what decides whether an export still fits: the model file's SHA-256, the runtime, the
precision and the versions of Ultralytics, torch and the runtime's library (and for TensorRT, whose
engines have a fixed largest input, the image size and batch). ONNX and OpenVINO exports take any batch
and image size, so one export serves every camera layout.

An entry is trusted only after its boxes on a reference photo (Ultralytics' ``bus.jpg``) matched the
torch model's; its ``manifest.json`` then records every file's SHA-256, and a file that no longer matches
(a disk error, a half-copied cache) makes the entry be rebuilt. Building happens in a temporary directory
renamed into place, so two daemons sharing a cache never see half an export.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ModelConfig
from ..geometry import iou_matrix
from ..resources import resolve_package_path
from ..types import Detections, Frame
from .base import Detector
from .runtimes import ModelInfo
from .ultralytics import first_line, train_size

log = logging.getLogger(__name__)

FORMATS = {"onnxruntime": "onnx", "openvino": "openvino", "tensorrt": "engine"}
LIBRARIES = {"onnxruntime": ("onnxruntime", "onnx"), "openvino": ("openvino",), "tensorrt": ("tensorrt",)}
REFERENCE_PHOTO = "pkg:ultralytics/assets/bus.jpg"
MANIFEST = "manifest.json"
MATCH_IOU = 0.85
"""Boxes of the export and of torch that are the same object overlap at least this much."""
SCORE_MARGIN = 0.05
"""Boxes this close to the threshold may fall either side of it on either runtime."""


class ExportFailed(Exception):
    """The runtime cannot run this model; the message is one line for the log."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    directory: Path
    runtime: str
    files: dict[str, Path]
    """Role → file: ``xml`` (OpenVINO), ``onnx``, ``engine``."""
    info: ModelInfo


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def entry_dir(cfg: ModelConfig, runtime: str, half: bool, imgsz: int, batch: int) -> Path:
    """Where the export of ``cfg.path`` for ``runtime`` lives (whether or not it exists yet)."""
    model = Path(cfg.path)
    parts: dict[str, Any] = {
        "model": file_sha256(model),
        "runtime": runtime,
        "precision": "fp16" if half else "fp32",
        "versions": {p: _version(p) for p in ("ultralytics", "torch", *LIBRARIES[runtime])},
    }
    if runtime == "tensorrt":
        parts.update(imgsz=imgsz, batch=batch)
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cfg.cache_dir) / f"{model.stem}-{runtime}-{key}"


def load_entry(directory: Path) -> CacheEntry:
    """Read a cache entry; ValueError when it is damaged (a file missing or not what was verified)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        files = {role: directory / name for role, name in manifest["files"].items()}
        for name, digest in manifest["sha256"].items():
            if file_sha256(directory / name) != digest:
                raise ValueError(f"{name} does not match its checksum")
        return CacheEntry(
            directory=directory,
            runtime=manifest["runtime"],
            files=files,
            info=ModelInfo(
                names={int(k): str(v) for k, v in manifest["names"].items()},
                end2end=bool(manifest["end2end"]),
                stride=int(manifest["stride"]),
                train_imgsz=int(manifest["train_imgsz"]),
            ),
        )
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


def reference_frame() -> Frame:
    import cv2

    image = cv2.imread(str(resolve_package_path(REFERENCE_PHOTO)))
    if image is None:
        raise ExportFailed(f"cannot read the reference photo {REFERENCE_PHOTO}")
    return Frame("reference", 0, 0.0, np.asarray(image, np.uint8))


def compare(reference: Detections, candidate: Detections, threshold: float) -> str | None:
    """Why ``candidate`` is not the same detection as ``reference`` (None: it is). Every box clearly above
    the threshold in either must have a box of the same label in the other at IoU ≥ ``MATCH_IOU``."""
    for a, b, which in ((reference, candidate, "torch"), (candidate, reference, "the export")):
        clear = np.flatnonzero(a.confidence >= threshold + SCORE_MARGIN)
        if clear.size == 0:
            continue
        iou = iou_matrix(a.xyxy[clear], b.xyxy) if len(b) else np.zeros((clear.size, 0), np.float32)
        same = a.label[clear][:, None] == b.label[None, :]
        unmatched = int(np.sum(~np.any((iou >= MATCH_IOU) & same, axis=1)))
        if unmatched:
            return f"{unmatched} of {clear.size} boxes {which} found have no match in the other"
    return None


def exported_metadata(fmt: str, exported: Path) -> dict[str, Any]:
    """The metadata Ultralytics' exporter wrote with the export (names, stride, end2end, imgsz)."""
    if fmt == "openvino":
        import yaml

        meta: dict[str, Any] = yaml.safe_load((exported / "metadata.yaml").read_text())
        return meta
    if fmt == "onnx":
        import onnx

        props = {p.key: p.value for p in onnx.load(str(exported), load_external_data=False).metadata_props}
        parsed = ("names", "stride", "end2end", "imgsz")
        return {k: ast.literal_eval(v) if k in parsed else v for k, v in props.items()}
    return {}


def build_entry(
    cfg: ModelConfig,
    runtime: str,
    directory: Path,
    *,
    device: str,
    half: bool,
    imgsz: int,
    batch: int,
    reference: Detector,
    open_detector: Callable[[CacheEntry], Detector],
) -> CacheEntry:
    """Export ``cfg.path`` for ``runtime`` into ``directory``, verified against ``reference`` (the torch
    model) on the reference photo. Raises ExportFailed."""
    from ultralytics import YOLO  # type: ignore[attr-defined]
    from ultralytics.utils import LOGGER

    fmt = FORMATS[runtime]
    directory.parent.mkdir(parents=True, exist_ok=True)
    # "-", not ".", before mkdtemp's random part: Ultralytics names the export by replacing the model's
    # suffix everywhere in its path, and a work directory drawn as ".<name>.pt3kq..." broke that
    work = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        source = work / Path(cfg.path).name  # the exporter writes next to its input: a private copy
        shutil.copyfile(cfg.path, source)
        level = LOGGER.level
        LOGGER.setLevel(logging.WARNING)  # the exporter's banner is not for the daemon's log
        try:
            model = YOLO(str(source), task="detect")
            options: dict[str, Any] = {"quantize": 16} if half else {}
            if fmt == "onnx":
                options["simplify"] = False  # onnxslim is not a dependency
            if getattr(model.model, "end2end", False):
                options["nms"] = False  # keep an NMS-free head NMS-free, as the .pt runs it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace's deprecation notices
                out = Path(
                    model.export(
                        format=fmt,
                        imgsz=imgsz,
                        batch=batch,
                        dynamic=True,
                        device=device,
                        **options,
                    )
                )
        except Exception as exc:
            raise ExportFailed(f"export to {fmt} failed: {first_line(exc)}") from None
        finally:
            LOGGER.setLevel(level)
        source.unlink()
        meta = exported_metadata(fmt, out)
        if runtime == "openvino":
            files = {"xml": next(out.glob("*.xml")), "bin": next(out.glob("*.bin"))}
        else:
            files = {fmt: out}
        names = meta.get("names") or dict(model.names)
        manifest = {
            "runtime": runtime,
            "model": Path(cfg.path).name,
            "model_sha256": file_sha256(Path(cfg.path)),
            "files": {role: str(p.relative_to(work)) for role, p in files.items()},
            "sha256": {str(p.relative_to(work)): file_sha256(p) for p in files.values()},
            "names": {str(k): v for k, v in names.items()},
            "end2end": bool(meta.get("end2end", False)),
            "stride": int(meta.get("stride", 32)),
            "train_imgsz": train_size(model),
            "precision": "fp16" if half else "fp32",
            "versions": {p: _version(p) for p in ("ultralytics", "torch", *LIBRARIES[runtime])},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        entry = load_entry(work)
        frame = reference_frame()
        candidate = open_detector(entry)
        try:
            problem = compare(reference.detect([frame])[0], candidate.detect([frame])[0], cfg.min_confidence)
        finally:
            candidate.close()
        if problem:
            raise ExportFailed(f"the {runtime} export does not match torch on {REFERENCE_PHOTO}: {problem}")
        try:
            os.rename(work, directory)
        except OSError:  # another process finished the same export first: theirs is as good
            if not (directory / MANIFEST).exists():
                raise
        return load_entry(directory)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
