"""Prometheus metrics. Counters the pipeline already keeps (frames, drops, events, reconnects, outbox)
are read at scrape time by a collector, so the hot path pays nothing for them; only the inference time
and batch size are observed as they happen. Labels are camera, rule and sink *names*, never URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .pipeline import Pipeline


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inference_seconds = Histogram(
            "sitewatch_inference_seconds",
            "Time to run the detector on one batch.",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "sitewatch_batch_size",
            "Frames per inference batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )

    def watch(self, pipeline: Pipeline) -> None:
        self.registry.register(_PipelineCollector(pipeline))


class _PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    def collect(self) -> Iterator[Metric]:
        from .sources import CameraState
        from .supervisor import WorkerState

        p = self.p
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
        for name, cam in list(p.cameras.items()):
            frames.add_metric([name], cam.processed)
            dropped.add_metric([name], p.hub.dropped(name))
            up.add_metric([name], 1.0 if cam.producer.state is CameraState.ONLINE else 0.0)
            reconnects.add_metric([name], cam.producer.reconnects)
            stalls.add_metric([name], cam.stalls)
            decode_errors.add_metric([name], cam.producer.source.decode_errors)
        yield from (frames, dropped, up, reconnects, stalls, decode_errors)

        events = CounterMetricFamily(
            "sitewatch_events", "Events sent to the sinks.", labels=["camera", "rule", "type"]
        )
        for (camera, rule, kind), n in list(p.events.items()):
            events.add_metric([camera, rule, kind], n)
        yield events

        errors = CounterMetricFamily(
            "sitewatch_sink_errors", "Events a sink failed to write or had to drop.", labels=["sink"]
        )
        for w in p.bus.workers:
            errors.add_metric([w.sink.name], w.errors + w.dropped)
        yield errors

        pending = GaugeMetricFamily("sitewatch_outbox_pending", "MQTT events waiting for the broker.")
        pending.add_metric([], p.outbox_pending())
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
        for name, n in sorted(p.supervisor.restart_counts().items()):
            restarts.add_metric([name], n)
        yield restarts
        healthy = GaugeMetricFamily(
            "sitewatch_worker_healthy",
            "1 while a worker thread runs normally; 0 while it is degraded (retrying a fault) or restarting.",
            labels=["worker"],
        )
        for report in p.supervisor.reports():
            healthy.add_metric([report.name], 1.0 if report.state is WorkerState.RUNNING else 0.0)
        yield healthy
