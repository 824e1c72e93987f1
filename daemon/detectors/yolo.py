"""Loading a YOLO model on the runtime that runs it fastest here, and falling back to torch when that
runtime cannot.

``model.runtime`` names the runtime or leaves it to ``auto`` (``runtimes.choose_runtime``). A ``.pt``
model is exported once into the cache (``export_cache``) and checked against torch; any failure — the
library missing, the export or its check failing, the cached export not loading — logs one line saying
why and runs the model with torch through Ultralytics, so a runtime problem costs speed, never the
service. Model files that are already exported (``.onnx``, ``.engine``, ...) run through Ultralytics as
they are.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..config import ConfigError, ModelConfig
from .base import Detector
from .batched import BatchedDetector, open_session
from .export_cache import CacheEntry, ExportFailed, build_entry, entry_dir, load_entry
from .runtimes import LIBRARY_HINT, UltralyticsSession, choose_runtime, installed
from .ultralytics import UltralyticsDetector, first_line, resolve_device

log = logging.getLogger(__name__)

TRACE_SIZE = 640
"""Export input size for the dynamic-shape runtimes (any size runs; this one only traces the graph)."""


def create_yolo_detector(cfg: ModelConfig) -> Detector:
    detector: Detector
    device, half = resolve_device(cfg.device, cfg.half)
    choice = choose_runtime(cfg.runtime, device)
    name = Path(cfg.path).name
    if Path(cfg.path).suffix.lower() != ".pt":
        detector = UltralyticsDetector(cfg)
        log.info("runtime: Ultralytics runs %s as it is (runtime applies to .pt models)", name)
        return detector
    try:
        if choice.runtime == "torch":
            detector = torch_detector(cfg, device, half)
        else:
            detector = exported_detector(cfg, choice.runtime, device, half)
    except ExportFailed as exc:
        log.warning("runtime %s unavailable for %s: %s; running it with torch", choice.runtime, name, exc)
        return UltralyticsDetector(cfg)
    log.info("runtime: %s on %s%s (%s)", choice.runtime, device, " fp16" if half else "", choice.reason)
    return detector


def torch_detector(cfg: ModelConfig, device: str, half: bool) -> Detector:
    """The ``.pt`` network in torch with the daemon's batch pre- and post-processing. Raises ExportFailed
    for a checkpoint that only ``YOLO.predict`` can run."""
    try:
        session = UltralyticsSession(Path(cfg.path), device, half)
    except Exception as exc:
        raise ExportFailed(f"cannot load it for batched inference: {first_line(exc)}") from None
    return BatchedDetector(cfg, session, runtime="torch", info=session.info, device=device)


def exported_detector(cfg: ModelConfig, runtime: str, device: str, half: bool) -> Detector:
    """The model on ``runtime``, from the cache or exported now. Raises ExportFailed."""
    if not installed(runtime):
        raise ExportFailed(f"its library is not installed ({LIBRARY_HINT[runtime]})")
    imgsz = _engine_size(cfg)
    directory = entry_dir(cfg, runtime, half, imgsz, cfg.max_batch)
    entry: CacheEntry | None = None
    if directory.exists():
        try:
            entry = load_entry(directory)
        except ValueError as exc:
            log.warning("cached %s export %s is damaged (%s); exporting it again", runtime, directory, exc)
            shutil.rmtree(directory, ignore_errors=True)
    if entry is None:
        log.info("exporting %s for %s (once; kept in %s)", Path(cfg.path).name, runtime, directory)
        reference = UltralyticsDetector(cfg)
        try:
            entry = build_entry(
                cfg,
                runtime,
                directory,
                device=device,
                half=half,
                imgsz=imgsz if runtime == "tensorrt" else TRACE_SIZE,
                batch=cfg.max_batch,
                reference=reference,
                open_detector=lambda e: open_entry(cfg, e, device),
            )
        except OSError as exc:  # a cache directory this user cannot write, a full disk
            raise ExportFailed(f"cannot write the export to {directory}: {exc.strerror or exc}") from None
        finally:
            reference.close()
    try:
        return open_entry(cfg, entry, device)
    except Exception as exc:
        raise ExportFailed(f"cannot load the export in {directory}: {first_line(exc)}") from None


def open_entry(cfg: ModelConfig, entry: CacheEntry, device: str) -> Detector:
    """A detector on a cache entry's files."""
    session = (
        UltralyticsSession(entry.files["engine"], device, half=True)  # Ultralytics' TensorRT bindings
        if entry.runtime == "tensorrt"
        else open_session(entry.runtime, entry.files, cfg, device)
    )
    return BatchedDetector(cfg, session, runtime=entry.runtime, info=entry.info, device=device)


def export_ahead(cfg: ModelConfig) -> str:
    """``sitewatch export``: make and verify the export ``run`` would use, now (for images built
    offline, or to keep the first start fast). Returns what was done; raises ConfigError when the
    configured runtime cannot run the model."""
    name = Path(cfg.path).name
    device, half = resolve_device(cfg.device, cfg.half)
    choice = choose_runtime(cfg.runtime, device)
    if Path(cfg.path).suffix.lower() != ".pt":
        return f"{name}: already an exported model; Ultralytics runs it as it is"
    if choice.runtime == "torch":
        return f"{name}: runtime torch ({choice.reason}): nothing to export"
    try:
        exported_detector(cfg, choice.runtime, device, half).close()
    except ExportFailed as exc:
        raise ConfigError([f"model.runtime: {choice.runtime} cannot run {name}: {exc}"]) from None
    where = entry_dir(cfg, choice.runtime, half, _engine_size(cfg), cfg.max_batch)
    return f"{name}: {choice.runtime} export checked against torch and cached in {where}"


def _engine_size(cfg: ModelConfig) -> int:
    """The largest input a TensorRT engine is built for: the configured size, or for ``auto`` twice
    the trace size (``auto`` never goes past twice the training size)."""
    return cfg.imgsz if isinstance(cfg.imgsz, int) else 2 * TRACE_SIZE
