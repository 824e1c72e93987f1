"""Runs the pipeline as a service: the main loop that talks to systemd (READY, WATCHDOG, STATUS,
STOPPING), serves health and metrics, refreshes camera statuses, and applies SIGHUP reloads.

The watchdog proves progress, not mere existence: ``WATCHDOG=1`` is sent only if frames were processed
since the last ping, or every camera is legitimately offline while the inference loop still turns. A
wedged detector therefore stops the pings, and systemd restarts the daemon.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from .config import Config, ConfigError, check_labels, load_config
from .health import HealthServer
from .notify import Notifier
from .pipeline import Pipeline, RunSummary

log = logging.getLogger(__name__)

STATUS_INTERVAL = 30.0
"""Seconds between periodic camera status messages (state changes are sent at once)."""
RESTART_NEEDED = ("model", "tracker", "sinks", "log_level", "log_format", "service", "record_dir")
"""Settings a reload cannot apply to a running process (the model stays loaded)."""


class Service:
    def __init__(self, pipeline: Pipeline, config_path: Path, *, notifier: Notifier | None = None) -> None:
        self.pipeline = pipeline
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.ready = False
        self._reload = threading.Event()
        svc = pipeline.config.service
        self.http = (
            HealthServer(svc.http_host, svc.http_port, live=self.live, ready=self.readiness,
                         registry=pipeline.metrics.registry)
            if svc.http_port
            else None
        )  # fmt: skip

    def request_reload(self) -> None:
        """Signal-handler safe: the main loop reloads the config at its next turn."""
        self._reload.set()

    # --- health ------------------------------------------------------------------------------------

    def live(self) -> tuple[bool, str]:
        age = time.monotonic() - self.pipeline.heartbeat
        limit = max(10.0, self.notifier.watchdog_interval)
        if self.pipeline.worker_alive and age > limit:
            return False, f"inference loop stalled for {age:.0f} s"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        if not self.ready:
            return False, "starting: model loading or sources not started"
        online = self.pipeline.cameras_online()
        if online == 0:
            return False, f"no camera online (0/{len(self.pipeline.cameras)})"
        return True, f"{online}/{len(self.pipeline.cameras)} cameras online"

    def status_line(self, fps: float) -> str:
        p = self.pipeline
        online = p.cameras_online()
        return f"{online}/{len(p.cameras)} cameras online, {fps:.1f} fps, outbox {p.outbox_pending()}"

    # --- the main loop -----------------------------------------------------------------------------

    def run(self, duration: float | None = None) -> RunSummary:
        p = self.pipeline
        if self.http is not None:
            self.http.start()
        p.start()
        self.ready = True
        self.notifier.notify("READY=1", f"STATUS={self.status_line(0.0)}")
        now = time.monotonic()
        deadline = None if duration is None else now + duration
        next_status = now + STATUS_INTERVAL
        half = self.notifier.watchdog_interval / 2
        tick = min(0.2, half / 2) if half else 0.2
        next_ping, last_frames, last_check = now + half, p.frames_processed(), now
        fps = 0.0
        while p.worker_alive and not p.stop_event.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                log.info("duration of %.1f s reached", duration)
                break
            p.stop_event.wait(tick if deadline is None else max(0.0, min(tick, deadline - now)))
            now = time.monotonic()
            p.check_stalls()
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            if now >= next_status:
                next_status += STATUS_INTERVAL
                p.publish_statuses()
            if half and now >= next_ping:
                frames = p.frames_processed()
                fps = (frames - last_frames) / max(now - last_check, 1e-6)
                idle_but_alive = p.cameras_online() == 0 and now - p.heartbeat < half
                if frames > last_frames or idle_but_alive:
                    self.notifier.notify("WATCHDOG=1", f"STATUS={self.status_line(fps)}")
                else:
                    log.warning(
                        "no frame processed for %.0f s: not pinging the systemd watchdog", now - last_check
                    )
                last_frames, last_check, next_ping = frames, now, now + half
        self.notifier.notify("STOPPING=1", "STATUS=stopping")
        self.ready = False
        summary = p.shutdown()
        if self.http is not None:
            self.http.stop()
        return summary

    # --- SIGHUP ------------------------------------------------------------------------------------

    def reload(self) -> bool:
        """Load the config file again and apply what can be applied live. A config that does not load
        is rejected with one log line and the running one stays."""
        self.notifier.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            new = load_config(self.config_path)
            check_labels(new, self.pipeline.detector.labels)
        except ConfigError as exc:
            log.error("reload rejected, the running configuration stays: %s", "; ".join(exc.problems))
            self.notifier.notify("READY=1")
            return False
        old: Config = self.pipeline.config
        for key in RESTART_NEEDED:
            if getattr(new, key) != getattr(old, key):
                log.warning("reload: '%s' changed; restart the daemon to apply it", key)
        changes = self.pipeline.reconfigure(new.cameras)
        log.info("reload applied: %s", "; ".join(changes) if changes else "no camera, zone or rule changed")
        self.notifier.notify("READY=1")
        return True
