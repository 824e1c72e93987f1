"""Prometheus metrics. Counters the pipeline already keeps (frames, drops, events, reconnects, outbox)
are read at scrape time by a collector, so the hot path pays nothing for them; only the inference time
and batch size are observed as they happen. Labels are camera, rule and sink *names*, never URLs.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Histogram, Info, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import __version__
from .config import Replica


@dataclass(frozen=True, slots=True)
class CameraCounts:
    name: str
    processed: int
    dropped: int
    online: bool
    reconnects: int
    stalls: int
    decode_errors: int
    held: int = 0
    decoded: int = 0
    skipped: int = 0
    queued: int = 0


@dataclass(frozen=True, slots=True)
class PipelineCounts:
    """What a scrape reads from the pipeline (``Pipeline.counts``): the metrics module knows this and
    nothing of the pipeline, so neither imports the other back."""

    cameras: list[CameraCounts] = field(default_factory=list)
    events: dict[tuple[str, str, str], int] = field(default_factory=dict)
    sink_errors: dict[str, int] = field(default_factory=dict)
    outbox_pending: int = 0
    inference_errors: int = 0
    frame_errors: int = 0
    worker_restarts: dict[str, int] = field(default_factory=dict)
    workers_healthy: dict[str, bool] = field(default_factory=dict)
    retention_deleted_files: dict[str, int] = field(default_factory=dict)
    retention_deleted_bytes: dict[str, int] = field(default_factory=dict)
    retention_errors: int = 0
    classifier_looks: dict[str, int] = field(default_factory=dict)
    classifier_deferred: dict[str, int] = field(default_factory=dict)
    classifier_errors: dict[str, int] = field(default_factory=dict)
    mqtt_connected: bool | None = None
    """None without an MQTT sink."""
    inference_available: bool = True
    inference_dropped: dict[str, int] = field(default_factory=dict)
    gpus: list[GpuCounts] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GpuCounts:
    device: str
    used_bytes: int
    total_bytes: int
    utilization: float | None
    """0..1 over the driver's last sample period; None where NVML is not available."""


class Metrics:
    def __init__(self, replica: Replica | None = None) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, resident memory, open fds
        PlatformCollector(registry=self.registry)
        Info("sitewatch_build", "The running build.", registry=self.registry).info(
            {"version": __version__, "python": platform.python_version()}
        )
        if replica is not None:
            shard = replica.shard
            Info(
                "sitewatch_replica",
                "Which replica this is and its shard of the cameras.",
                registry=self.registry,
            ).info(
                {
                    "host": replica.host,
                    "shard": str(shard.index) if shard else "",
                    "shards": str(shard.count) if shard else "",
                }
            )
        self.event_latency = Histogram(
            "sitewatch_event_latency_seconds",
            "From decoding the frame that started an alert to its start event leaving for the sinks.",
            buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
            registry=self.registry,
        )
        self.inference_seconds = Histogram(
            "sitewatch_inference_seconds",
            "Time to run the detector on one batch.",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
            registry=self.registry,
        )
        self.frame_latency = Histogram(
            "sitewatch_frame_latency_seconds",
            "From decoding a frame to its tracks and events being done (queue wait and inference included).",
            buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "sitewatch_batch_size",
            "Frames per inference batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )

    def watch(self, read: Callable[[], PipelineCounts]) -> None:
        """Serve the counters ``read`` returns at each scrape."""
        self.registry.register(_PipelineCollector(read))


class _PipelineCollector(Collector):
    def __init__(self, read: Callable[[], PipelineCounts]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        p = self.read()
        frames = CounterMetricFamily("sitewatch_frames", "Frames processed.", labels=["camera"])
        dropped = CounterMetricFamily(
            "sitewatch_frames_dropped", "Frames a live camera delivered faster than they were processed.",
            labels=["camera"],
        )  # fmt: skip
        up = GaugeMetricFamily(
            "sitewatch_camera_up", "1 while the camera delivers frames.", labels=["camera"]
        )
        reconnects = CounterMetricFamily(
            "sitewatch_reconnects", "Camera reconnect attempts.", labels=["camera"]
        )
        stalls = CounterMetricFamily(
            "sitewatch_stalls",
            "Times a live camera stopped delivering and was reconnected.",
            labels=["camera"],
        )
        decode_errors = CounterMetricFamily(
            "sitewatch_decode_errors", "Damaged packets skipped by the decoder.", labels=["camera"]
        )
        held = CounterMetricFamily(
            "sitewatch_frames_held",
            "Frames gating kept from the detector (detect_every, motion_gate); rules ran on held tracks.",
            labels=["camera"],
        )
        decoded = CounterMetricFamily(
            "sitewatch_frames_decoded", "Frames the camera's decoder delivered.", labels=["camera"]
        )
        skipped = CounterMetricFamily(
            "sitewatch_frames_skipped", "Decoded frames the camera's fps cap left out.", labels=["camera"]
        )
        queued = GaugeMetricFamily(
            "sitewatch_queue_depth", "Frames waiting for the detector.", labels=["camera"]
        )
        for cam in p.cameras:
            decoded.add_metric([cam.name], cam.decoded)
            skipped.add_metric([cam.name], cam.skipped)
            queued.add_metric([cam.name], cam.queued)
            frames.add_metric([cam.name], cam.processed)
            dropped.add_metric([cam.name], cam.dropped)
            up.add_metric([cam.name], 1.0 if cam.online else 0.0)
            reconnects.add_metric([cam.name], cam.reconnects)
            stalls.add_metric([cam.name], cam.stalls)
            decode_errors.add_metric([cam.name], cam.decode_errors)
            held.add_metric([cam.name], cam.held)
        yield from (frames, dropped, up, reconnects, stalls, decode_errors, held, decoded, skipped, queued)

        connected = GaugeMetricFamily("sitewatch_mqtt_connected", "1 while connected to the MQTT broker.")
        if p.mqtt_connected is not None:  # no sample without an MQTT sink
            connected.add_metric([], 1.0 if p.mqtt_connected else 0.0)
        yield connected
        available = GaugeMetricFamily(
            "sitewatch_inference_available",
            "0 while the inference server does not answer (inference_unavailable), else 1.",
        )
        available.add_metric([], 1.0 if p.inference_available else 0.0)
        yield available
        lost = CounterMetricFamily(
            "sitewatch_inference_dropped_frames",
            "Frames dropped because inference was unavailable (a remote server down).",
            labels=["camera"],
        )
        for camera, n in sorted(p.inference_dropped.items()):
            lost.add_metric([camera], n)
        yield lost
        # GPU: samples on CUDA only
        memory = GaugeMetricFamily(
            "sitewatch_gpu_memory_used_bytes", "GPU memory in use (all processes).", labels=["device"]
        )
        total = GaugeMetricFamily("sitewatch_gpu_memory_total_bytes", "GPU memory.", labels=["device"])
        busy = GaugeMetricFamily(
            "sitewatch_gpu_utilization_ratio", "Share of time the GPU was busy (NVML).", labels=["device"]
        )
        for gpu in p.gpus:
            memory.add_metric([gpu.device], gpu.used_bytes)
            total.add_metric([gpu.device], gpu.total_bytes)
            if gpu.utilization is not None:
                busy.add_metric([gpu.device], gpu.utilization)
        yield from (memory, total, busy)

        events = CounterMetricFamily(
            "sitewatch_events", "Events sent to the sinks.", labels=["camera", "rule", "type"]
        )
        for (camera, rule, kind), n in p.events.items():
            events.add_metric([camera, rule, kind], n)
        yield events

        errors = CounterMetricFamily(
            "sitewatch_sink_errors", "Events a sink failed to write or had to drop.", labels=["sink"]
        )
        for name, n in p.sink_errors.items():
            errors.add_metric([name], n)
        yield errors

        pending = GaugeMetricFamily("sitewatch_outbox_pending", "MQTT events waiting for the broker.")
        pending.add_metric([], p.outbox_pending)
        yield pending
        failures = CounterMetricFamily("sitewatch_inference_errors", "Batches the detector failed on.")
        failures.add_metric([], p.inference_errors)
        yield failures
        frame_errors = CounterMetricFamily(
            "sitewatch_frame_errors", "Frames skipped because tracking or rules raised on them."
        )
        frame_errors.add_metric([], p.frame_errors)
        yield frame_errors

        restarts = CounterMetricFamily(
            "sitewatch_worker_restarts", "Times a worker thread crashed and was restarted.", labels=["worker"]
        )
        for name, n in sorted(p.worker_restarts.items()):
            restarts.add_metric([name], n)
        yield restarts
        healthy = GaugeMetricFamily(
            "sitewatch_worker_healthy",
            "1 while a worker thread runs normally; 0 while it is degraded (retrying a fault) or restarting.",
            labels=["worker"],
        )
        for name, ok in p.workers_healthy.items():
            healthy.add_metric([name], 1.0 if ok else 0.0)
        yield healthy

        files = CounterMetricFamily(
            "sitewatch_retention_deleted_files", "Files deleted by retention.", labels=["kind"]
        )
        size = CounterMetricFamily(
            "sitewatch_retention_deleted_bytes", "Bytes freed by retention.", labels=["kind"]
        )
        for kind in ("events", "snapshots", "clips", "tracks"):
            files.add_metric([kind], p.retention_deleted_files.get(kind, 0))
            size.add_metric([kind], p.retention_deleted_bytes.get(kind, 0))
        failed = CounterMetricFamily(
            "sitewatch_retention_errors", "Files retention could not compress or delete."
        )
        failed.add_metric([], p.retention_errors)
        yield from (files, size, failed)

        looks = CounterMetricFamily(
            "sitewatch_classifier_looks", "Crops a second-stage classifier judged.", labels=["classifier"]
        )
        deferred = CounterMetricFamily(
            "sitewatch_classifier_deferred",
            "Looks put off because the classifier's queue was full (the track is tried again next frame).",
            labels=["classifier"],
        )
        clf_errors = CounterMetricFamily(
            "sitewatch_classifier_errors", "Looks lost because the classifier raised.", labels=["classifier"]
        )
        for family, counts in ((looks, p.classifier_looks), (deferred, p.classifier_deferred),
                               (clf_errors, p.classifier_errors)):  # fmt: skip
            for name, n in sorted(counts.items()):
                family.add_metric([name], n)
        yield from (looks, deferred, clf_errors)


def gpu_counts(device: str) -> list[GpuCounts]:
    """Memory and utilisation of the CUDA device the detector runs on (nothing on a CPU); read at
    scrape time, and never an error: a metric that cannot be read is left out."""
    if not device.startswith("cuda"):
        return []
    try:
        import torch

        index = torch.device(device).index or 0
        free, total = torch.cuda.mem_get_info(index)
        try:
            utilization: float | None = torch.cuda.utilization(index) / 100.0
        except Exception:  # needs NVML (pynvml), which a slim install may lack
            utilization = None
        return [GpuCounts(f"cuda:{index}", int(total - free), int(total), utilization)]
    except Exception:
        return []
