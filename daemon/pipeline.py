"""The pipeline: producers → frame hub → batched detection → per-camera tracking and rules → event bus.

Threads: one producer per camera (decoding), one inference worker (detection on batches across cameras,
then tracking and rules per frame, which are vectorised and cheap), one thread per sink. The inference
worker never does I/O: events go to the bus, which queues them for the sink threads.

Everything a config builds (sources, rules, sinks, the recorder) is built inside one error boundary,
``build``: a failure is a ``ConfigError`` naming the key, at start (exit 2) and on SIGHUP (the reload is
rejected and the running configuration stays). Every thread runs under the supervisor
(``daemon/supervisor.py``); a frame whose tracking or rules raise is skipped and counted, and the other
cameras go on.

Shutdown order keeps every promise the daemon makes: stop the producers, let the worker finish the frames
already queued (bounded by ``drain_timeout``), end every active alert (so every ``start`` has an ``end``),
then let each sink write what it holds and close.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from sitewatch.trackers import Tracker, create_tracker

from .attributes.stage import AttributeStage
from .clips import ClipRing
from .commands import ALL, Command, CommandError, CommandReply
from .config import CameraConfig, Config, PpeRuleConfig, Replica, build
from .detectors import Detector
from .events import CameraStatus, EventMessage
from .gating import Gate
from .logs import Throttle
from .metrics import CameraCounts, Metrics, PipelineCounts, gpu_counts
from .outage import InferenceOutage
from .queues import FrameHub
from .recorder import Recorder
from .resolution import HeadSizeCheck
from .retention import RetentionWorker
from .rules import RuleEngine, build_engine
from .sources import CameraState, Producer, create_source
from .state import Override
from .supervisor import SupervisedThread, WorkerState, supervisor
from .types import Detections, Frame, Tracks, TrackUpdate

log = logging.getLogger(__name__)

LATENCY_WINDOW = 65536

WARM_UP_AUTO_LONG_SIDE = 1280
"""With ``imgsz = "auto"`` the cameras' sizes are unknown until they deliver; warm up at 720p's."""


@dataclass(slots=True)
class CameraRuntime:
    """One camera's producer and analytics state."""

    config: CameraConfig
    producer: Producer
    tracker: Tracker
    engine: RuleEngine
    head_check: HeadSizeCheck | None = None
    gate: Gate = field(default_factory=Gate)
    last: tuple[Detections, Tracks] | None = None
    """The last detected frame's detections and tracks, which gated frames hold."""
    disabled: bool = False
    """Switched off by an operator's command: its producer is stopped and its frames are not judged."""
    processed: int = 0
    held: int = 0
    """Frames gating kept from the detector (their rules ran on the held tracks)."""
    stalls: int = 0
    latest: tuple[Frame, Tracks] | None = None
    """The last judged frame and its tracks, for the web page's live view (replaced, never mutated)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    elapsed_s: float
    frames: dict[str, int]
    dropped: dict[str, int]
    events: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(camera, rule, type) → count."""
    sink_errors: dict[str, int] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    """Cameras that could not be read at all (a file that is not video, say)."""

    @property
    def total_frames(self) -> int:
        return sum(self.frames.values())


class Pipeline:
    def __init__(
        self,
        config: Config,
        detector: Detector,
        *,
        max_frames: int | None = None,
        drain_timeout: float = 3.0,
    ) -> None:
        from sitewatch.sinks import EventBus, create_sinks
        from sitewatch.sinks.clips import ClipSink
        from sitewatch.sinks.recent import RecentEvents
        from sitewatch.sinks.state import StateSink, StateStore

        self.config = config
        self.detector = detector
        self.max_frames = max_frames
        self.drain_timeout = drain_timeout
        self.hub = FrameHub()
        self.events: Counter[tuple[str, str, str]] = Counter()
        self.inference_errors = 0
        self.outage = InferenceOutage()
        """A remote inference server's availability (daemon/outage.py)."""
        self.frame_errors = 0
        """Frames whose tracking or rules raised (skipped; the camera goes on)."""
        self.stop_event = threading.Event()
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._abandon = threading.Event()
        self._lock = threading.Lock()
        self._throttle = Throttle(log)
        self._started = 0.0
        self.store = build("state_file", lambda: StateStore(config.state_file))
        saved = self.store.load()
        self.tallies = saved.tallies
        """Line counts by (camera, rule): outlive engines (reloads) and, through the state file, restarts."""
        self.overrides = saved.overrides
        """Operators' commands from earlier runs, applied to each engine as it is built."""
        self.rings: dict[str, ClipRing] = {}
        """Each camera's recent video, for evidence clips (daemon/clips.py)."""
        self.cameras: dict[str, CameraRuntime] = {}
        for i, cam in enumerate(config.cameras):
            self._add(self._make_camera(cam, i))
        rotate = config.retention.rotate_daily
        self.recent = RecentEvents()
        sinks = [
            *create_sinks(config.sinks, rotate_daily=rotate, replica=config.replica),
            StateSink(self.store),
            self.recent,
        ]
        if config.sinks.clips.enabled:
            sinks.append(build("sinks.clips.dir", lambda: ClipSink(config.sinks.clips, self.rings.get)))
        self.bus = EventBus(sinks)
        self.bus.listen(self.submit_command)
        self.bus.describe(config)
        self.recorder = (
            build("record_dir", lambda: Recorder(config.record_dir, rotate_daily=rotate))
            if any(c.record_tracks for c in config.cameras)
            else None
        )
        self.retention = RetentionWorker(config)
        self.attributes = AttributeStage(config.classifiers)
        self._worker = SupervisedThread("inference", lambda _w: self._infer_loop(), stop=self._abandon)
        self.supervisor = supervisor
        self.heartbeat = time.monotonic()
        """When the inference loop last turned (it turns at least every 0.1 s unless the model hangs)."""
        self.metrics = Metrics(config.replica)
        self.latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        """The latest frames' decode-to-done latencies in seconds (bench/ reads the percentiles)."""
        self.metrics.watch(self.counts)

    def _make_camera(self, cam: CameraConfig, index: int) -> CameraRuntime:
        """Build a camera's producer, tracker and rules (not yet started or queued)."""
        producer = build(f"cameras[{index}].url", lambda: self._producer(cam))
        tracker = build("tracker", lambda: create_tracker(self.config.tracker))
        people = frozenset(r.person_label for r in cam.rules if isinstance(r, PpeRuleConfig))
        check = HeadSizeCheck(cam.name, people, self.config.model.min_input_head_px) if people else None
        gate = Gate(cam.detect_every, cam.motion_threshold if cam.motion_gate else None, cam.motion_refresh)
        runtime = CameraRuntime(cam, producer, tracker, self._engine(cam, index), check, gate)
        override = self.overrides.get((cam.name, ""))
        runtime.disabled = override is not None and override.enabled is False
        return runtime

    def _engine(self, cam: CameraConfig, index: int) -> RuleEngine:
        engine = build(
            f"cameras[{index}].rules",
            lambda: build_engine(
                cam,
                model=self.detector.name,
                snapshots=self.config.sinks.snapshots.enabled,
                clips=self.config.sinks.clips.kinds if self.config.sinks.clips.enabled else (),
                tallies=self.tallies,
                host=self.config.replica.host,
            ),
        )
        now = time.time()
        for rule in engine.rules:
            override = self.overrides.get((cam.name, rule.name))
            if override is None:
                continue
            if override.enabled is not None:
                rule.enabled = override.enabled
                engine.enabled_by_command.add(rule.name)
            if override.snoozed_until is not None and override.snoozed_until > now:
                engine.snoozed_until[rule.name] = override.snoozed_until
        return engine

    def _ring(self, cam: CameraConfig) -> ClipRing | None:
        """The camera's clip ring (kept across producers and reloads): long enough for the longest
        clip its rules can ask for — pre_seconds before a condition began, post_seconds after its
        alert started — within the configured memory."""
        clips = self.config.sinks.clips
        if not clips.enabled:
            return None
        ring = self.rings.get(cam.name)
        if ring is None:
            ring = self.rings[cam.name] = ClipRing(
                0.0, int(clips.max_mb_per_camera * 2**20), fps=clips.fps, width=clips.width
            )
        debounce = max(
            (getattr(r, "min_duration", 0.0) or getattr(r, "max_seconds", 0.0) for r in cam.rules),
            default=0.0,
        )
        ring.seconds = clips.pre_seconds + clips.post_seconds + min(debounce, 120.0) + 2.0
        return ring

    def _producer(self, cam: CameraConfig, first_index: int = 0) -> Producer:
        source = create_source(cam)
        source.ring = self._ring(cam)
        return Producer(
            cam,
            source,
            self.hub,
            max_frames=self.max_frames,
            on_state=self._publish_status,
            first_index=first_index,
        )

    # --- running -----------------------------------------------------------------------------------

    def start(self) -> None:
        self.warm_up()
        self._started = self.heartbeat = time.monotonic()
        self.publish_states()
        for cam in self.cameras.values():
            if cam.disabled:
                log.warning(
                    "camera %s is switched off by an operator's command; '%s/set ON' starts it",
                    cam.config.name,
                    cam.config.name,
                )
                self._publish_status(cam.producer)
            else:
                cam.producer.start()
        self._worker.start()
        self.attributes.start()
        self.retention.start()
        log.info("pipeline started: %d camera(s), model %s", len(self.cameras), self.detector.name)

    def warm_up(self) -> None:
        """One inference on a blank 16:9 frame at the configured size, before any camera starts: the
        runtime's first-use work (lazy imports, kernel choice, CUDA context) must not delay the first
        alerts of a (re)started daemon. A failure here is logged; the inference loop reports its own."""
        imgsz = self.config.model.imgsz
        long_side = imgsz if isinstance(imgsz, int) else WARM_UP_AUTO_LONG_SIDE
        started = time.perf_counter()
        try:
            self.detector.warm_up((long_side, max(32, long_side * 9 // 16)))
            self.attributes.warm_up()
        except Exception as exc:
            log.warning("model warm-up failed: %s: %s", type(exc).__name__, exc)
            return
        log.info(
            "model %s warmed up on %s/%s in %.2f s",
            self.detector.name, self.detector.runtime, self.detector.device, time.perf_counter() - started,
        )  # fmt: skip

    def stop(self) -> None:
        """Ask ``run`` to return (signal-handler safe)."""
        self.stop_event.set()

    def shutdown(self) -> RunSummary:
        self.stop_event.set()
        for cam in self.cameras.values():
            cam.producer.stop()
        if self._worker.ident is not None:  # a pipeline built but never started shuts down too
            self._worker.join(self.drain_timeout)
        if self._worker.is_alive():
            log.warning(
                "queued frames not processed within %.1f s; discarding %d",
                self.drain_timeout,
                self.hub.pending(),
            )
            self._abandon.set()
            self._worker.join(2.0)
        self.attributes.stop()
        with self._lock:
            for cam in self.cameras.values():
                for message in cam.engine.close("shutdown"):
                    self._publish(message)
            self.publish_states()
        if self.recorder is not None:
            self.recorder.close()
        self.retention.close()
        if not self.bus.close(timeout=5.0):
            log.error("a sink did not finish writing within 5 s")
        deadline = time.monotonic() + 1.0  # a producer stuck in a network read is a daemon thread
        for cam in self.cameras.values():
            if cam.producer.ident is not None:
                cam.producer.join(max(0.0, deadline - time.monotonic()))
        self.detector.close()
        summary = self.summary()
        log.info(
            "stopped after %.1f s: %d frames, %d events",
            summary.elapsed_s,
            summary.total_frames,
            sum(summary.events.values()),
        )
        return summary

    def summary(self) -> RunSummary:
        return RunSummary(
            elapsed_s=time.monotonic() - self._started if self._started else 0.0,
            frames={name: cam.processed for name, cam in self.cameras.items()},
            dropped={name: self.hub.dropped(name) for name in self.cameras},
            events=dict(list(self.events.items())),
            sink_errors={w.sink.name: w.errors + w.dropped for w in self.bus.workers},
            failed=tuple(n for n, c in self.cameras.items() if c.producer.state is CameraState.FAILED),
        )

    # --- the inference worker ----------------------------------------------------------------------

    @property
    def worker_alive(self) -> bool:
        return self._worker.is_alive()

    def counts(self) -> PipelineCounts:
        """The counters /metrics serves, read at scrape time (the hot path keeps them anyway)."""
        cameras = [
            CameraCounts(
                name=name,
                processed=cam.processed,
                dropped=self.hub.dropped(name),
                online=cam.producer.state is CameraState.ONLINE,
                reconnects=cam.producer.reconnects,
                stalls=cam.stalls,
                decode_errors=cam.producer.source.decode_errors,
                held=cam.held,
                decoded=cam.producer.decoded,
                skipped=cam.producer.skipped,
                queued=self.hub.depth(name),
            )
            for name, cam in list(self.cameras.items())
        ]
        return PipelineCounts(
            cameras=cameras,
            events=dict(list(self.events.items())),
            sink_errors={
                w.sink.name: w.errors + w.dropped + getattr(w.sink, "errors", 0) for w in self.bus.workers
            },
            outbox_pending=self.outbox_pending(),
            inference_errors=self.inference_errors,
            frame_errors=self.frame_errors,
            worker_restarts=self.supervisor.restart_counts(),
            workers_healthy={r.name: r.state is WorkerState.RUNNING for r in self.supervisor.reports()},
            retention_deleted_files=dict(self.retention.deleted_files),
            retention_deleted_bytes=dict(self.retention.deleted_bytes),
            retention_errors=self.retention.errors,
            classifier_looks=dict(self.attributes.looks),
            classifier_deferred=dict(self.attributes.deferred),
            classifier_errors=dict(self.attributes.errors),
            mqtt_connected=self._mqtt_connected(),
            inference_available=self.outage.available,
            inference_dropped=dict(self.outage.dropped),
            gpus=gpu_counts(self.detector.device),
        )

    def _mqtt_connected(self) -> bool | None:
        sinks = [w.sink for w in self.bus.workers if w.sink.name == "mqtt"]
        return bool(getattr(sinks[0], "connected", False)) if sinks else None

    def frames_processed(self) -> int:
        return sum(cam.processed for cam in list(self.cameras.values()))

    def cameras_online(self) -> int:
        return sum(1 for cam in list(self.cameras.values()) if cam.producer.state is CameraState.ONLINE)

    def outbox_pending(self) -> int:
        return sum(len(w.sink.outbox) for w in self.bus.workers if hasattr(w.sink, "outbox"))

    def publish_statuses(self) -> None:
        for cam in list(self.cameras.values()):
            self._publish_status(cam.producer)

    def publish_states(self, cameras: list[str] | None = None) -> None:
        """Every rule's state (and the object counts) of these cameras (all by default), changed or not:
        at start, after a reload and at shutdown. Frames publish only what changed."""
        for name in cameras if cameras is not None else list(self.cameras):
            cam = self.cameras.get(name)
            if cam is not None:
                for state in cam.engine.updates(cam.engine.last_ts or time.time(), everything=True):
                    self.bus.state(state)

    def _sources_done(self) -> bool:
        """Every camera that is switched on has finished (a daemon whose cameras an operator switched
        off waits for a command, it does not end)."""
        watched = [cam for cam in list(self.cameras.values()) if not cam.disabled]
        return bool(watched) and all(cam.producer.done for cam in watched)

    def cameras_disabled(self) -> int:
        return sum(1 for cam in list(self.cameras.values()) if cam.disabled)

    # --- operator commands (daemon/commands.py) ----------------------------------------------------

    def submit_command(self, command: Command) -> None:
        """Thread-safe (the MQTT thread calls it): applied by the inference thread between frames."""
        self._commands.put(command)

    def _apply_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if command.camera not in self.cameras and command.camera in self._fleet_cameras():
                log.debug("command on %s is for another replica's camera", command.topic)
                continue
            try:
                with self._lock:
                    self._apply(command)
            except CommandError as exc:
                log.warning("command on %s rejected: %s", command.topic, exc)
                self.bus.reply(CommandReply(command.topic, command.describe(), str(exc), time.time()))
            else:
                log.info("command from %s: %s", command.topic or "the API", command.describe())

    def _fleet_cameras(self) -> set[str]:
        return {c.name for c in self.config.replica.fleet.cameras}

    def _apply(self, command: Command) -> None:
        cam = self.cameras.get(command.camera)
        if cam is None:
            raise CommandError(
                f"unknown camera {command.camera!r} (cameras: {', '.join(sorted(self.cameras))})"
            )
        if command.rule is None:
            self._switch_camera(cam, command.action == "enable")
            return
        engine = cam.engine
        if engine.rule(command.rule) is None:
            known = ", ".join(r.name for r in engine.rules) or "none"
            raise CommandError(f"camera {command.camera} has no rule {command.rule!r} (rules: {known})")
        key = (command.camera, command.rule)
        saved = self.overrides.get(key, Override())
        if command.action in ("enable", "disable"):
            enabled = command.action == "enable"
            messages = engine.set_enabled(command.rule, enabled)
            self.overrides[key] = Override(enabled, saved.snoozed_until)
        elif command.action == "snooze":
            messages = engine.snooze(command.rule, command.until)
            self.overrides[key] = Override(saved.enabled, command.until)
        else:
            messages = []
            try:
                engine.acknowledge(command.rule, None if command.alert_id == ALL else command.alert_id)
            except LookupError:
                raise CommandError(f"alert {command.alert_id} is not active on rule {command.rule}") from None
        for message in messages:
            self._publish(message)
        for state in engine.updates(engine.last_ts or time.time()):
            self.bus.state(state)

    def _switch_camera(self, cam: CameraRuntime, enabled: bool) -> None:
        name = cam.config.name
        self.overrides[(name, "")] = Override(enabled)
        if enabled != cam.disabled:
            return  # already so
        cam.disabled = not enabled
        if cam.disabled:
            cam.producer.stop()
            cam.last = None
            self.attributes.forget_camera(name)
            for message in cam.engine.close("disabled"):
                self._publish(message)
            for state in cam.engine.updates(cam.engine.last_ts or time.time()):
                self.bus.state(state)
            self._publish_status(cam.producer)
        else:
            old = cam.producer
            cam.producer = self._producer(cam.config, first_index=old.frames)
            if self._started:
                cam.producer.start()

    # --- reconfiguration (SIGHUP) ------------------------------------------------------------------

    SOURCE_FIELDS = (
        "url",
        "password_env",
        "realtime",
        "loop",
        "fps",
        "queue_size",
        "open_timeout",
        "read_timeout",
        "transport",
        "hwaccel",
        "decode_width",
        # gating lives with the camera's producer and runtime: a change restarts the camera
        "detect_every",
        "motion_gate",
        "motion_threshold",
        "motion_refresh",
    )

    def check_stalls(self) -> None:
        """Replace the producer of every live camera that stopped delivering frames (a hung read
        included: the old thread is left to finish its read and exit)."""
        now = time.monotonic()
        for cam in list(self.cameras.values()):
            old = cam.producer
            if not old.source.live or old.state is not CameraState.ONLINE or not old.is_alive():
                continue
            limit = old.stall_limit(cam.config.stall_seconds)
            quiet = now - old.last_frame_at
            if quiet <= limit:
                continue
            cam.stalls += 1
            old.stop()
            old.mark_stalled(f"no frame for {quiet:.1f} s (limit {limit:.1f} s); reconnecting")
            new = self._producer(cam.config, first_index=old.frames)
            new.reconnects, new.failures, new.fps, new.state = (
                old.reconnects + 1,
                old.failures,
                old.fps,
                old.state,
            )
            cam.producer = new
            new.start()

    def reconfigure(self, cameras: list[CameraConfig], replica: Replica | None = None) -> list[str]:
        """Apply a new camera list without stopping the others: add, remove, restart the cameras whose
        source changed, and swap the rules of those whose zones, lines or rules changed (their active
        alerts end with reason ``reconfigured``). Returns one line per change, for the log.

        Everything new is built first; if anything fails to build, a ConfigError naming its key is
        raised and nothing has changed."""
        wanted = {c.name: c for c in cameras}
        fresh: dict[str, CameraRuntime] = {}  # added or restarted cameras
        engines: dict[str, RuleEngine] = {}  # cameras whose rules changed
        plan: list[tuple[str, str]] = []
        for i, cam in enumerate(cameras):
            current = self.cameras.get(cam.name)
            if current is None:
                fresh[cam.name] = self._make_camera(cam, i)
                plan.append((cam.name, f"camera {cam.name} added"))
            elif any(getattr(cam, f) != getattr(current.config, f) for f in self.SOURCE_FIELDS):
                fresh[cam.name] = self._make_camera(cam, i)
                plan.append((cam.name, f"camera {cam.name} restarted (source settings changed)"))
            elif cam != current.config:
                engines[cam.name] = self._engine(cam, i)
                plan.append((cam.name, f"camera {cam.name}: zones, lines or rules updated"))
        recorder = self.recorder
        if recorder is None and any(c.record_tracks for c in cameras):
            recorder = build("record_dir", lambda: Recorder(self.config.record_dir))

        changes = []
        with self._lock:
            for name in [n for n in self.cameras if n not in wanted]:
                self._retire(name)
                self.rings.pop(name, None)
                changes.append(f"camera {name} removed")
            for name, change in plan:
                if name in fresh:
                    if name in self.cameras:
                        self._retire(name)
                    self._add(fresh[name])
                else:
                    current = self.cameras[name]
                    for message in current.engine.close("reconfigured"):
                        self._publish(message)
                    current.engine = engines[name]
                    current.config = wanted[name]
                changes.append(change)
            before = self.config.replica
            self.config = self.config.model_copy(update={"cameras": cameras})
            # the fleet the sinks judge stale topics by: the reloaded one (unsharded: these cameras)
            self.config.attach_replica(replica or Replica(before.shard, before.host, self.config))
            self.bus.describe(self.config)
            self.recorder = recorder
            self.publish_states([name for name, _ in plan])
        return changes

    def _add(self, runtime: CameraRuntime) -> None:
        cam = runtime.config
        self.hub.add_camera(cam.name, cam.queue_size, "block" if cam.kind == "file" else "latest")
        self.cameras[cam.name] = runtime
        if self._started:
            runtime.producer.start()

    def _retire(self, name: str) -> None:
        runtime = self.cameras.pop(name)
        self.attributes.forget_camera(name)
        runtime.producer.stop()
        self.hub.remove_camera(name)
        for message in runtime.engine.close("reconfigured"):
            self._publish(message)

    def _infer_loop(self) -> None:
        """The inference worker's body (supervised: a bug that escapes restarts it after the backoff)."""
        mc = self.config.model
        while not self._abandon.is_set():
            self.heartbeat = time.monotonic()
            self._apply_commands()
            batch = self.hub.take_batch(mc.max_batch, mc.max_wait_ms / 1000, timeout=0.1)
            if not batch:
                if (self.stop_event.is_set() or self._sources_done()) and self.hub.pending() == 0:
                    break
                continue
            todo = [frame for frame in batch if self._needs_detection(frame)]
            started = time.perf_counter()
            try:
                todo, results, lost = self.outage.detect(self.detector, todo)
            except Exception as exc:
                self.inference_errors += 1
                self._throttle.log(
                    logging.ERROR,
                    "inference failed; skipping the batch",
                    f"{len(batch)} frame(s): {type(exc).__name__}: {exc}",
                    exc_info=True,
                )
                continue
            if todo:
                self.metrics.inference_seconds.observe(time.perf_counter() - started)
                self.metrics.batch_size.observe(len(todo))
            detected = {id(frame): dets for frame, dets in zip(todo, results, strict=True)}
            for frame in batch:  # in order: a held frame follows the detected frames before it
                if id(frame) in lost:
                    continue  # dropped and counted (daemon/outage.py); gated frames still run
                try:
                    self._analyse(frame, detected.get(id(frame)))
                    if frame.decoded_at:
                        latency = time.monotonic() - frame.decoded_at
                        self.metrics.frame_latency.observe(latency)
                        self.latencies.append(latency)
                except Exception as exc:
                    self.frame_errors += 1
                    self._throttle.log(
                        logging.ERROR,
                        f"camera {frame.camera}: tracking or rules failed; skipping the frame",
                        f"frame {frame.index}: {type(exc).__name__}: {exc}",
                        exc_info=True,
                    )

    def _needs_detection(self, frame: Frame) -> bool:
        cam = self.cameras.get(frame.camera)
        if cam is None or not cam.gate.active:
            return True
        return cam.gate.needs_detection(frame.ts, frame.motion)

    def _analyse(self, frame: Frame, detections: Detections | None) -> None:
        """Track and judge one frame; ``detections`` None: gated, the camera's last tracks are held."""
        with self._lock:
            cam = self.cameras.get(frame.camera)
            if cam is None or cam.disabled:
                return
            if detections is None:
                if cam.last is None:
                    return
                detections, tracks = cam.last
                update = TrackUpdate(tracks)
                cam.held += 1
            else:
                update = cam.tracker.update(detections, frame.ts, frame.size)
                cam.last = (detections, update.tracks)
            cam.processed += 1
            cam.latest = (frame, update.tracks)
            decisions = None
            if self.attributes.enabled:
                if cam.last is not None and cam.last[1] is update.tracks:  # detected, not held: boxes fit
                    self.attributes.schedule(frame, update.tracks)
                decisions = self.attributes.decisions(frame.camera)
            if self.recorder is not None and cam.config.record_tracks:
                self.recorder.record(frame, detections, update.tracks, update.removed, decisions)
            for message in cam.engine.process(frame, detections, update.tracks, update.removed, decisions):
                if message.event.type == "start" and frame.decoded_at:
                    self.metrics.event_latency.observe(time.monotonic() - frame.decoded_at)
                self._publish(message)
            for state in cam.engine.updates(frame.ts):
                self.bus.state(state)
            if update.removed and self.attributes.enabled:
                self.attributes.forget(frame.camera, update.removed)
            if cam.head_check is not None and not cam.head_check.done:
                tracks = update.tracks
                heights = tracks.xyxy[:, 3] - tracks.xyxy[:, 1]
                size = self.detector.input_size(frame.size)
                if warning := cam.head_check.observe(frame.size, size, heights, tracks.label):
                    log.warning("%s", warning)

    def _publish_status(self, producer: Producer) -> None:
        runtime = self.cameras.get(producer.camera.name)
        if runtime is None or runtime.producer is not producer:
            return  # a removed camera's or a replaced producer's last words: nobody needs them
        off = runtime is not None and runtime.disabled
        state = CameraState.DISABLED.value if off else producer.state.value
        self.bus.status(
            CameraStatus(producer.camera.name, state, producer.fps, time.time(), self.config.replica.host)
        )

    def _publish(self, message: EventMessage) -> None:
        ev = message.event
        if ev.clip is not None and ev.type == "start" and (ring := self.rings.get(ev.camera)) is not None:
            ring.hold(
                ev.alert_id, ev.started_at - self.config.sinks.clips.pre_seconds
            )  # sinks/clips.py releases
        self.events[(ev.camera, ev.rule.name, ev.type)] += 1
        self.bus.publish(message)
