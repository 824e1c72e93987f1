"""What the web page reads from a running pipeline (``SiteView`` in daemon/web/app.py), on the HTTP
server's thread: references the inference thread leaves behind — the last judged frame and tracks of
each camera, each rule's last published state, the recent events — copied or drawn here, never waited
for and never locked against the inference loop."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..events import SnapshotRequest
from ..rules.engine import Geometry
from ..sources import CameraState

if TYPE_CHECKING:
    from ..pipeline import Pipeline


class PipelineSite:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def camera_views(self) -> list[dict[str, Any]]:
        hub = self.pipeline.hub
        views = []
        for name, cam in list(self.pipeline.cameras.items()):
            producer = cam.producer
            latest = cam.latest
            rules = []
            for rule in cam.engine.rules:
                state = cam.engine.current.get(rule.name)
                rules.append({
                    "name": rule.name, "kind": rule.kind, "on": bool(state and state.on),
                    "active": len(state.active) if state else 0, "enabled": rule.enabled,
                    "snoozed": rule.name in cam.engine.snoozed_until,
                    "counts": state.counts if state else None,
                })  # fmt: skip
            views.append({
                "name": name,
                "state": CameraState.DISABLED.value if cam.disabled else producer.state.value,
                "fps": round(producer.fps, 2), "frames": cam.processed, "dropped": hub.dropped(name),
                "decoded": producer.decoded, "skipped": producer.skipped, "queued": hub.depth(name),
                "size": None if latest is None else list(latest[0].size),
                "zones": {z: {"points": c.points, "units": c.units} for z, c in cam.config.zones.items()},
                "lines": {n: {"points": c.points, "units": c.units} for n, c in cam.config.lines.items()},
                "rules": rules,
            })  # fmt: skip
        return views

    def live_jpeg(self, camera: str) -> bytes | None:
        """The camera's latest judged frame with its tracks, zones and lines drawn (None before one)."""
        from sitewatch.sinks.annotate import encode_jpeg

        cam = self.pipeline.cameras.get(camera)
        latest = None if cam is None else cam.latest
        if cam is None or latest is None:
            return None
        frame, tracks = latest
        shapes = Geometry(cam.config).for_size(frame.size)
        state = cam.producer.state.value
        clock = time.strftime("%H:%M:%S", time.localtime(frame.ts))
        caption = f"{camera} | {clock} | {state} {cam.producer.fps:.1f} fps"
        request = SnapshotRequest(frame.image, tracks, shapes.zones, shapes.lines, None, caption, "")
        return encode_jpeg(request, quality=70)

    def recent_events(
        self, *, camera: str | None, rule: str | None, since: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return self.pipeline.recent.query(camera=camera, rule=rule, since=since, limit=limit)
