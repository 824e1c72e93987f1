"""Event sinks: where alerts go. Each runs on its own thread behind the ``EventBus``."""

from __future__ import annotations

from sitewatch.daemon.config import Replica, SinksConfig, build

from .base import EventBus, Sink, SinkWorker
from .jsonl import JsonlSink
from .snapshot import SnapshotSink

__all__ = ["EventBus", "JsonlSink", "Sink", "SinkWorker", "SnapshotSink", "create_sinks"]


def create_sinks(
    cfg: SinksConfig, *, rotate_daily: bool = False, replica: Replica | None = None
) -> list[Sink]:
    """Build the enabled sinks; a failure is a ConfigError naming the sink's key. ``rotate_daily``
    starts a new JSONL file each UTC day (retention.rotate_daily); ``replica``: a sharded replica's
    place in the fleet (its MQTT client id, Last Will and stale-topic rules)."""
    sinks: list[Sink] = []
    if cfg.jsonl.enabled:
        sinks.append(
            build(
                "sinks.jsonl.path",
                lambda: JsonlSink(cfg.jsonl.path, fsync=cfg.jsonl.fsync, rotate_daily=rotate_daily),
            )
        )
    if cfg.snapshots.enabled:
        sinks.append(
            build(
                "sinks.snapshots.dir",
                lambda: SnapshotSink(cfg.snapshots.dir, jpeg_quality=cfg.snapshots.jpeg_quality),
            )
        )
    if cfg.mqtt.enabled:
        from .mqtt import MqttSink

        sinks.append(build("sinks.mqtt", lambda: MqttSink(cfg.mqtt, replica)))
    return sinks
