"""The measurements of the benchmark suite (``python -m bench``), each a function returning plain figures.

Every figure comes from the same model, clip and image size within one run, so the ratios between them
hold on the machine that ran them; no figure is meant to be compared across machines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from sitewatch.daemon.config import Config, ModelConfig, parse_config
from sitewatch.daemon.detectors import Detector, create_detector
from sitewatch.daemon.pipeline import Pipeline
from sitewatch.daemon.resources import DEMO_MODEL, resolve_package_path
from sitewatch.daemon.types import Frame

log = logging.getLogger("bench")


def default_model() -> tuple[Path, dict[str, str]]:
    try:
        path = resolve_package_path("pkg:fall_detection/models/best.pt")
        if path.is_file():
            return path, {"Normal": "person", "Fall": "person"}
    except FileNotFoundError:
        pass
    return resolve_package_path(DEMO_MODEL), {}


@dataclass(frozen=True, slots=True)
class Setup:
    """What every measurement shares."""

    model: Path
    clip: Path
    imgsz: int
    labels: dict[str, str]
    cache_dir: Path
    device: str = "cpu"

    def model_config(self, runtime: str, **extra: Any) -> ModelConfig:
        return ModelConfig(
            path=str(self.model),
            imgsz=self.imgsz,
            device=self.device,
            runtime=runtime,  # type: ignore[arg-type]
            labels=self.labels,
            cache_dir=self.cache_dir,
            **extra,
        )


def decoded_frames(clip: Path) -> list[Frame]:
    with av.open(str(clip)) as container:
        return [
            Frame("bench", i, i / 30, f.to_ndarray(format="bgr24"))
            for i, f in enumerate(container.decode(video=0))
        ]


def percentiles(samples: list[float] | np.ndarray) -> dict[str, float | None]:
    if len(samples) == 0:
        return {"p50_ms": None, "p99_ms": None}
    a = np.asarray(samples, np.float64) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 1), "p99_ms": round(float(np.percentile(a, 99)), 1)}


def raw_backend(setup: Setup, runtime: str, frames: list[Frame]) -> dict[str, Any]:
    """The detector alone on pre-decoded frames, batch 1: the ceiling a pipeline can approach."""
    detector = create_detector(setup.model_config(runtime))
    if detector.runtime != runtime:
        return {"runtime": runtime, "available": False}
    detector.detect(frames[:1])
    times = []
    for frame in frames:
        t = time.perf_counter()
        detector.detect([frame])
        times.append(time.perf_counter() - t)
    detector.close()
    return {"runtime": runtime, "available": True, "fps": len(frames) / sum(times), **percentiles(times)}


def ultralytics_predict(setup: Setup, frames: list[Frame]) -> dict[str, Any]:
    """``YOLO.predict`` one frame at a time: what the daemon ran before it had runtimes of its own."""
    from ultralytics import YOLO  # type: ignore[attr-defined]

    model = YOLO(str(setup.model), task="detect")
    fp16 = {"quantize": 16} if setup.device.startswith("cuda") else {}
    model.predict(frames[0].image, imgsz=setup.imgsz, device=setup.device, verbose=False, **fp16)
    times = []
    for frame in frames:
        t = time.perf_counter()
        model.predict(frame.image, imgsz=setup.imgsz, device=setup.device, verbose=False, **fp16)
        times.append(time.perf_counter() - t)
    fps = len(frames) / sum(times)
    return {"runtime": "YOLO.predict", "available": True, "fps": fps, **percentiles(times)}


def ultralytics_track(setup: Setup) -> dict[str, Any]:
    """Ultralytics' own loop a user would write instead: ``YOLO.track(source, stream=True)``."""
    from ultralytics import YOLO  # type: ignore[attr-defined]

    model = YOLO(str(setup.model), task="detect")
    n, first = 0, 0.0
    fp16 = {"quantize": 16} if setup.device.startswith("cuda") else {}
    results = model.track(
        str(setup.clip), stream=True, tracker="bytetrack.yaml", imgsz=setup.imgsz, device=setup.device,
        verbose=False, **fp16,
    )  # fmt: skip
    for _ in results:
        n += 1
        if n == 1:
            first = time.perf_counter()  # from the first result: loading and warm-up left out, as for ours
    return {"fps": (n - 1) / (time.perf_counter() - first), "frames": n}


def pipeline_config(setup: Setup, runtime: str, cameras: int, data: Path, **camera: Any) -> Config:
    cams = [
        {
            "name": f"cam{i}",
            "url": str(setup.clip),
            "zones": {"all": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
            "rules": [{"name": "anyone", "kind": "zone_intrusion", "zone": "all", "min_duration": 0.5}],
            **camera,
        }
        for i in range(cameras)
    ]
    raw = {
        "model": setup.model_config(runtime, max_batch=max(1, cameras)).model_dump(mode="json"),
        "service": {"http_port": 0},
        "cameras": cams,
        "sinks": {"jsonl": {"path": str(data / "events.jsonl")}, "snapshots": {"enabled": False}},
    }
    return parse_config(raw, data)


def run_pipeline(
    config: Config,
    detector: Detector,
    seconds: float | None = None,
    before_start: Callable[[Pipeline], object] | None = None,
) -> tuple[Pipeline, float]:
    """Run to the end of the clips (or for ``seconds``); the frames per second from the moment the
    pipeline is started and warm until it stops, as ``sitewatch run`` logs them. ``before_start`` gets
    the pipeline built but not started (to attach what a run measures beside it)."""
    pipeline = Pipeline(config, detector)
    if before_start is not None:
        before_start(pipeline)
    pipeline.start()  # warms the model up first; the producers start as it returns
    started = time.perf_counter()
    deadline = None if seconds is None else time.monotonic() + seconds
    while pipeline.worker_alive and (deadline is None or time.monotonic() < deadline):
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    pipeline.shutdown()
    return pipeline, elapsed


def pipeline_speed(setup: Setup, runtime: str, cameras: int) -> dict[str, Any]:
    """``sitewatch run`` on ``cameras`` file cameras of the clip, decoded as fast as they go."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        config = pipeline_config(setup, runtime, cameras, Path(scratch))
        detector = create_detector(config.model)
        pipeline, elapsed = run_pipeline(config, detector)
        summary = pipeline.summary()
        return {
            "runtime": detector.runtime,
            "cameras": cameras,
            "fps": summary.total_frames / elapsed,
            "frames": summary.total_frames,
            "dropped": sum(summary.dropped.values()),
            **percentiles(list(pipeline.latencies)),
        }


def latency(setup: Setup, runtime: str, fps: float, seconds: float = 60.0) -> dict[str, Any]:
    """Frame-to-event latency at 1 camera paced at ``fps`` for ``seconds`` (a live camera's steady rate,
    which the detector keeps up with; a flat-out file only measures how full its queue is)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        config = pipeline_config(setup, runtime, 1, Path(scratch), realtime=True, fps=fps, loop=True)
        detector = create_detector(config.model)
        pipeline, _ = run_pipeline(config, detector, seconds=seconds)
        samples = list(pipeline.latencies)
        return {"runtime": detector.runtime, "paced_fps": fps, "frames": len(samples), **percentiles(samples)}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_growth(setup: Setup, runtime: str, minutes: float, interval: float = 5.0) -> dict[str, Any]:
    """RSS while 1 camera loops the clip for ``minutes``: growth from the end of the first minute (the
    warm state: caches, pools and queues filled) to the end."""
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.wait(interval):
            samples.append((time.monotonic() - t0, rss_mb()))

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        config = pipeline_config(setup, runtime, 1, Path(scratch), loop=True)
        detector = create_detector(config.model)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        pipeline, _ = run_pipeline(config, detector, seconds=minutes * 60)
        stop.set()
        sampler.join()
    warm = [mb for t, mb in samples if t >= 60.0] or [mb for _, mb in samples]
    start, end = warm[0], warm[-1]
    return {
        "minutes": minutes,
        "frames": pipeline.summary().total_frames,
        "rss_start_mb": round(start, 1),
        "rss_end_mb": round(end, 1),
        "growth_pct": round(100 * (end - start) / start, 2),
        "samples": [(round(t, 1), round(mb, 1)) for t, mb in samples],
    }


@contextlib.contextmanager
def quiet(level: int = logging.WARNING) -> Iterator[None]:
    """The daemon's INFO lines are not the benchmark's output."""
    root = logging.getLogger("sitewatch")
    old = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(old)
