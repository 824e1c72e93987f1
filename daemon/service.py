"""Runs the pipeline as a service: the main loop that talks to systemd (READY, WATCHDOG, STATUS,
STOPPING), serves the web page, health and metrics (daemon/web/), refreshes camera statuses, and
applies SIGHUP reloads.

The watchdog proves progress, not mere existence: ``WATCHDOG=1`` is sent only if frames were processed
since the last ping, or every camera is legitimately offline while the inference loop still turns, and
no worker thread has kept crashing for longer than ``service.worker_give_up_seconds``. A wedged detector
or a worker that cannot recover therefore stops the pings, and systemd restarts the daemon.

The main loop itself never dies of a fault in its housekeeping (stall checks, statuses, reloads): each
is logged (rate-limited) and tried again at the next turn.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .config import Config, ConfigError, build, check_labels, load_config
from .logs import Throttle
from .notify import Notifier
from .pipeline import Pipeline, RunSummary
from .redact import register_secret
from .sharding import select
from .web.app import WebConfig, create_app
from .web.server import WebServer
from .web.site import PipelineSite

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")

STATUS_INTERVAL = 30.0
"""Seconds between periodic camera status messages (state changes are sent at once)."""
RESTART_NEEDED = (
    "model",
    "classifiers",
    "tracker",
    "sinks",
    "log_level",
    "log_format",
    "service",
    "record_dir",
    "retention",
)
"""Settings a reload cannot apply to a running process (the model stays loaded)."""


class Service:
    def __init__(
        self,
        pipeline: Pipeline,
        config_path: Path,
        *,
        notifier: Notifier | None = None,
        prepare: Callable[[Config], Config] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.config_path = config_path
        self.prepare = prepare or (lambda fleet: select(fleet, pipeline.config.replica.shard))
        """What ``run`` did to the loaded file (this replica's cameras, command-line overrides), done
        again to a reloaded one."""
        self.notifier = notifier or Notifier()
        self.ready = False
        self._reload = threading.Event()
        self._throttle = Throttle(log)
        svc = pipeline.config.service
        pipeline.supervisor.give_up_after = svc.worker_give_up_seconds
        self.http = self._web_server(pipeline) if svc.http_port else None

    def _web_server(self, pipeline: Pipeline) -> WebServer:
        svc, sinks = pipeline.config.service, pipeline.config.sinks
        token = os.environ.get(svc.auth_token_env, "") if svc.auth_token_env else ""
        if svc.auth_token_env and not token:
            raise ConfigError(
                [f"service.auth_token_env: environment variable {svc.auth_token_env} is not set"]
            )
        register_secret(token)
        if not token and svc.http_host not in LOOPBACK:
            log.warning(
                "the web page and metrics listen on %s without a token: anyone who can reach it sees the "
                "cameras (set service.auth_token_env)", svc.http_host,
            )  # fmt: skip
        app = create_app(
            WebConfig(
                live=self.live,
                ready=self.readiness,
                registry=pipeline.metrics.registry,
                site=PipelineSite(pipeline),
                snapshots=sinks.snapshots.dir if sinks.snapshots.enabled else None,
                clips=sinks.clips.dir if sinks.clips.enabled else None,
                token=token or None,
            )
        )
        return build(
            "service.http_port",
            lambda: WebServer(svc.http_host, svc.http_port, app, timeout=svc.http_timeout,
                              max_connections=svc.http_max_connections),
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
        hopeless = self.pipeline.supervisor.hopeless()
        if hopeless:
            return False, "; ".join(hopeless)
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        """Ready while at least one camera is online and no worker is failing; the body says why not."""
        if not self.ready:
            return False, "starting: model loading or sources not started"
        replica = self.pipeline.config.replica
        if not self.pipeline.cameras and replica.shard is not None:
            return True, f"shard {replica.shard}: no camera hashes to this replica"
        online = self.pipeline.cameras_online()
        off = self.pipeline.cameras_disabled()
        switched_off = f"; {off} switched off by command" if off else ""
        cameras = f"{online}/{len(self.pipeline.cameras)} cameras online{switched_off}"
        problems = self.pipeline.supervisor.problems()
        outage = self.pipeline.outage.problem()
        if outage:
            problems.insert(0, outage)
        if online == 0:
            problems.insert(0, f"no camera online (0/{len(self.pipeline.cameras)}{switched_off})")
        if problems:
            return False, "\n".join(problems if online == 0 else [cameras, *problems])
        return True, cameras

    def status_line(self, fps: float) -> str:
        p = self.pipeline
        online = p.cameras_online()
        line = f"{online}/{len(p.cameras)} cameras online, {fps:.1f} fps, outbox {p.outbox_pending()}"
        problems = p.supervisor.problems()
        outage = p.outage.problem()
        if outage:
            problems.insert(0, outage)
        if problems:
            line += f"; {len(problems)} failing: {problems[0]}"
        return line

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
            self._housekeeping(p.check_stalls, "checking for stalled cameras")
            if self._reload.is_set():
                self._reload.clear()
                self._housekeeping(self.reload, "reloading the configuration")
            if now >= next_status:
                next_status += STATUS_INTERVAL
                self._housekeeping(p.publish_statuses, "publishing camera statuses")
            if half and now >= next_ping:
                frames = p.frames_processed()
                fps = (frames - last_frames) / max(now - last_check, 1e-6)
                idle_but_alive = p.cameras_online() == 0 and now - p.heartbeat < half
                hopeless = p.supervisor.hopeless()
                if hopeless:
                    log.error("not pinging the systemd watchdog: %s", "; ".join(hopeless))
                elif frames > last_frames or idle_but_alive:
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
        self.notifier.close()
        return summary

    def _housekeeping(self, step: Callable[[], object], what: str) -> None:
        try:
            step()
        except Exception as exc:
            self._throttle.log(logging.ERROR, f"failed {what}; trying again", repr(exc), exc_info=True)

    # --- SIGHUP ------------------------------------------------------------------------------------

    def reload(self) -> bool:
        """Load the config file again and apply what can be applied live. A config that does not load,
        or whose cameras or rules cannot be built, is rejected with one log line and the running one
        stays untouched."""
        self.notifier.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            try:
                old: Config = self.pipeline.config
                new = self.prepare(load_config(self.config_path))
                check_labels(new, self.pipeline.detector.labels)
                changes = self.pipeline.reconfigure(new.cameras, new.replica)
            except ConfigError as exc:
                log.error("reload rejected, the running configuration stays: %s", "; ".join(exc.problems))
                return False
            except Exception as exc:  # a bug must not take the running daemon with it
                log.error("reload failed, the running configuration stays: %r", exc, exc_info=True)
                return False
            for key in RESTART_NEEDED:
                if getattr(new, key) != getattr(old, key):
                    log.warning("reload: '%s' changed; restart the daemon to apply it", key)
            log.info(
                "reload applied: %s", "; ".join(changes) if changes else "no camera, zone or rule changed"
            )
            return True
        finally:
            self.notifier.notify("READY=1")
