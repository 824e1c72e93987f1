"""``sitewatch plan``: how many cameras one replica carries, measured on this machine.

It runs what a replica runs for a few seconds — the configured detector (runtime, image size, batch) on
frames of a real clip, and PyAV decoding that clip — and turns the two rates into a sizing:

* the inference thread detects and then tracks every frame, one after the other: for N cameras at F fps
  it is busy N·F·(1/inference_fps + tracking) seconds a second; and the machine's cores together spend
  N·F·(cores/inference_fps + decoding + tracking) (the runtime uses every core while it runs, each
  camera decodes on its own thread). A replica carries the largest N that keeps both under
  ``headroom`` (75 %: room for bursts, rules and sinks) and says which one binds;
* with remote inference the inference thread letterboxes, decodes the server's answer (``client_ms``,
  measured) and tracks, the cores also decode, and the server must sustain N·F frames/s in total —
  given as a rate and as how many of this machine's inference throughput that is. (The thread also
  waits for the server's answers; the server is assumed sized to answer a batch in well under its
  share of a second.)

Figures are this machine's: the clip's resolution and codec decide decoding (bring your own with
``--clip``), the model and image size decide inference.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from sitewatch.trackers import create_tracker

from .config import ModelConfig, TrackerConfig
from .detectors import Detector
from .detectors.letterbox import BatchLetterbox
from .detectors.yolo_decode import decode
from .types import Detections, Frame

HEADROOM = 0.75


@dataclass(frozen=True, slots=True)
class Measurement:
    model: str
    runtime: str
    device: str
    imgsz: int
    batch: int
    frame_size: tuple[int, int]
    inference_fps: float
    """Frames per second through the detector at ``batch`` (the whole network, on this machine)."""
    decode_fps: float
    """Frames per second one thread decodes of the clip."""
    client_ms: float
    """Milliseconds a frame costs a remote-inference replica besides decoding: letterbox and box decoding."""
    tracking_ms: float
    """Milliseconds the tracker takes a frame (ByteTrack on this model's detections of the clip)."""
    cores: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Plan:
    fps: float
    cameras: int
    per_replica: int
    replicas: int
    bound: str
    """What limits a local-inference replica: ``the inference thread`` or ``the CPU cores``."""
    remote_bound: str
    remote_per_replica: int
    remote_replicas: int
    server_fps: float
    server_machines: float
    """The server's load in units of this machine's inference throughput."""


def clip_frames(path: Path, count: int) -> tuple[list[Frame], float]:
    """Up to ``count`` frames of ``path`` and the rate (frames/s) one thread decoded the whole clip at."""
    frames: list[Frame] = []
    decoded = 0
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = 1  # one core's rate; a replica decodes each camera on its own thread
        for frame in container.decode(stream):
            image = frame.to_ndarray(format="bgr24")
            decoded += 1
            if len(frames) < count:
                frames.append(Frame("plan", decoded, float(frame.time or 0.0), np.asarray(image, np.uint8)))
            if decoded >= 600:
                break
    elapsed = time.perf_counter() - started
    if not frames:
        raise ValueError(f"{path}: no video frames")
    return frames, decoded / elapsed


def measure(
    detector: Detector,
    cfg: ModelConfig,
    clip: Path,
    *,
    batch: int,
    seconds: float,
    tracking: TrackerConfig | None = None,
) -> Measurement:
    tracking = tracking or TrackerConfig.model_validate({})
    frames, decode_fps = clip_frames(clip, 64)
    h, w = frames[0].image.shape[:2]
    imgsz = detector.input_size((w, h)) or max(w, h)
    detector.warm_up((w, h))
    batches = [frames[i : i + batch] for i in range(0, len(frames) - batch + 1, batch)] or [frames[:batch]]
    done, started, i = 0, time.perf_counter(), 0
    detections: dict[int, Detections] = {}
    while time.perf_counter() - started < seconds or done == 0:
        chunk = batches[i % len(batches)]
        for frame, dets in zip(chunk, detector.detect(chunk), strict=True):
            detections[frame.index] = dets
        done += len(chunk)
        i += 1
    inference_fps = done / (time.perf_counter() - started)
    # the tracker on those detections, frame after frame as one camera's
    tracker = create_tracker(tracking)
    ordered = [f for f in frames if f.index in detections]
    rounds, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.5 or rounds < 3:
        for k, frame in enumerate(ordered):
            tracker.update(detections[frame.index], (rounds * len(ordered) + k) / 10, (w, h))
        rounds += 1
    tracking_ms = 1000 * (time.perf_counter() - started) / (rounds * len(ordered))
    # a remote replica's own share of the work: the letterbox and decoding the server's output
    letterbox = BatchLetterbox()
    chunk = batches[0]
    channels = 4 + max(1, len(detector.labels))
    anchors = sum((imgsz // s) ** 2 for s in (8, 16, 32))
    output = np.zeros((len(chunk), channels, anchors), np.float32)
    rounds, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.5 or rounds < 3:
        letterbox([f.image for f in chunk], imgsz)
        decode(output, cfg.min_confidence, False)
        rounds += 1
    client_ms = 1000 * (time.perf_counter() - started) / (rounds * len(chunk))
    return Measurement(
        model=detector.name,
        runtime=detector.runtime,
        device=detector.device,
        imgsz=imgsz,
        batch=len(chunk),
        frame_size=(w, h),
        inference_fps=inference_fps,
        decode_fps=decode_fps,
        client_ms=client_ms,
        tracking_ms=tracking_ms,
        cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        seconds=seconds,
    )


def _carry(thread_s: float, cpu_s: float, fps: float, cores: int, headroom: float) -> tuple[int, str]:
    """Cameras at ``fps`` that keep the inference thread (``thread_s`` a frame) and the cores
    (``cpu_s`` core-seconds a frame) under ``headroom``, and which of the two binds."""
    by_thread = headroom / (fps * thread_s)
    by_cores = headroom * cores / (fps * cpu_s)
    bound = "the inference thread" if by_thread <= by_cores else "the CPU cores"
    return max(0, math.floor(min(by_thread, by_cores))), bound


def plan(m: Measurement, fps: float, cameras: int, headroom: float = HEADROOM) -> Plan:
    infer, decode_s = 1 / m.inference_fps, 1 / m.decode_fps
    track, client = m.tracking_ms / 1000, m.client_ms / 1000
    if m.runtime == "remote":  # measured through the server: the thread waits, the cores do not work
        per_replica, bound = _carry(infer + track, decode_s + client + track, fps, m.cores, headroom)
    else:
        per_replica, bound = _carry(infer + track, m.cores * infer + decode_s + track, fps, m.cores, headroom)
    remote_per_replica, remote_bound = _carry(
        client + track, decode_s + client + track, fps, m.cores, headroom
    )
    server_fps = cameras * fps
    return Plan(
        fps=fps,
        cameras=cameras,
        per_replica=per_replica,
        replicas=math.ceil(cameras / per_replica) if per_replica else 0,
        bound=bound,
        remote_bound=remote_bound,
        remote_per_replica=remote_per_replica,
        remote_replicas=math.ceil(cameras / remote_per_replica) if remote_per_replica else 0,
        server_fps=server_fps,
        server_machines=server_fps / m.inference_fps,
    )


def report(m: Measurement, p: Plan) -> str:
    w, h = m.frame_size
    lines = [
        f"measured on this machine ({m.cores} cores) for {m.seconds:g} s: {m.model} on "
        f"{m.runtime}/{m.device}, imgsz {m.imgsz}, batch {m.batch}, {w}x{h} frames",
        f"  inference: {m.inference_fps:.1f} frames/s ({1000 / m.inference_fps:.1f} ms a frame)"
        + (" answered by the server" if m.runtime == "remote" else ""),
        f"  decoding:  {m.decode_fps:.1f} frames/s on one core",
        f"  tracking:  {m.tracking_ms:.2f} ms a frame",
        f"  remote-inference client work: {m.client_ms:.2f} ms a frame (letterbox, box decoding)",
        f"at {p.fps:g} fps per camera, keeping {int(HEADROOM * 100)} % of the machine busy at most:",
    ]
    how = "this server" if m.runtime == "remote" else "local inference"
    if p.per_replica:
        lines.append(
            f"  one replica with {how} carries {p.per_replica} camera(s) (bound by {p.bound}); "
            f"{p.cameras} camera(s) need {p.replicas} replica(s)"
        )
    else:
        lines.append(f"  a replica cannot carry even one camera at {p.fps:g} fps: lower fps or imgsz")
    lines.append(
        f"  with remote inference a replica carries {p.remote_per_replica} camera(s) "
        f"(bound by {p.remote_bound}); "
        f"{p.cameras} camera(s) need {p.remote_replicas} replica(s), and the server must sustain "
        f"{p.server_fps:g} frames/s at imgsz {m.imgsz} ({p.server_machines:.2f}x the inference measured here)"
    )
    return "\n".join(lines)


def run_plan(
    cfg: ModelConfig,
    detector: Detector,
    clip: Path,
    *,
    fps: float,
    cameras: int,
    seconds: float,
    batch: int,
    tracking: TrackerConfig | None = None,
) -> str:
    m = measure(detector, cfg, clip, batch=batch, seconds=seconds, tracking=tracking)
    return report(m, plan(m, fps, cameras))


def batch_for(cameras: int, max_batch: int) -> int:
    """A replica's batches hold at most one frame per camera at a time, up to max_batch."""
    return max(1, min(cameras, max_batch))
