"""The ``sitewatch`` command: ``run``, ``check-config``, ``demo``, ``eval``, ``replay``, ``init`` and
``version``.

Exit codes: 0 done (also after SIGINT/SIGTERM), 2 a user error in the configuration (one message per
problem, each naming its key path, never a traceback), 1 an unexpected internal failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from . import __version__
from .config import Config, ConfigError, Shard, load_config
from .sharding import describe_assignment, parse_shard, select, shard_from_environment

log = logging.getLogger("sitewatch")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


SHARD_HELP = (
    "watch only this replica's cameras: replica I of N (0-based), chosen by rendezvous hashing of camera "
    "names (default: $SITEWATCH_SHARD, or a StatefulSet pod's ordinal with $SITEWATCH_REPLICAS)"
)


def _shard(args: argparse.Namespace) -> Shard | None:
    return parse_shard(args.shard) if args.shard else shard_from_environment()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sitewatch", description="Real-time video analytics for site cameras.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon until SIGINT/SIGTERM (or until every file ends)")
    run.add_argument("--config", "-c", required=True, help="path to the TOML config")
    run.add_argument("--max-frames", type=int, metavar="N", help="stop each camera after N frames")
    run.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    run.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override the config's log_level"
    )
    run.add_argument("--shard", metavar="I/N", help=SHARD_HELP)
    run.add_argument(
        "--http-port",
        type=int,
        metavar="PORT",
        help="override service.http_port (replicas sharing one config on one machine each need their own)",
    )

    check = sub.add_parser("check-config", help="validate a config and print a summary")
    check.add_argument("config", help="path to the TOML config")
    check.add_argument("--shard", metavar="I/N", help=SHARD_HELP + "; prints every shard's cameras")
    check.add_argument(
        "--env-file",
        metavar="FILE",
        help="take environment variables (camera passwords) from this file first, as the unit's "
        "EnvironmentFile= does, e.g. /etc/sitewatch/secrets.env",
    )
    check.add_argument(
        "--credentials-dir",
        metavar="DIR",
        help="look for systemd credentials (password_credential) here, as $CREDENTIALS_DIRECTORY",
    )
    check.add_argument(
        "--state-dir",
        metavar="DIR",
        help="resolve relative output paths against DIR, as the service does with $STATE_DIRECTORY "
        "(/var/lib/sitewatch), and check that they are writable there",
    )

    rep = sub.add_parser("replay", help="re-run the rules on recorded tracks (record_tracks = true)")
    rep.add_argument("--config", "-c", required=True, help="path to the TOML config (zones, lines, rules)")
    rep.add_argument("logs", nargs="+", help="track logs written with record_tracks = true")
    rep.add_argument("--out", "-o", help="write events here (JSONL); default: standard output")

    demo = sub.add_parser("demo", help="run the whole product on a synthetic site (no camera, GPU or broker)")
    demo.add_argument("--data", default="sitewatch-data", help="where events and snapshots go")
    demo.add_argument("--seconds", type=float, help="watch only the first SECONDS of the clip")
    demo.add_argument("--clip", help="watch this clip instead of the shipped sample")

    ev = sub.add_parser("eval", help="alert precision, recall and delay per rule against ground truth")
    ev.add_argument("--config", "-c", required=True, help="config with one camera: the clip and the rules")
    ev.add_argument("--truth", required=True, help="ground truth JSON (docs/eval.md)")
    ev.add_argument("--tracks", help="reuse a track log (record_tracks) instead of running the detector")
    ev.add_argument("--json", action="store_true", help="print the table as JSON")

    init = sub.add_parser("init", help="write a starter config (and with --systemd the service unit)")
    init.add_argument("directory", help="where config.toml goes, e.g. /etc/sitewatch")
    init.add_argument("--systemd", action="store_true", help="also write sitewatch.service for this install")
    init.add_argument(
        "--unit-dir", default="/etc/systemd/system", help="where the unit goes (default: %(default)s)"
    )
    init.add_argument("--force", action="store_true", help="overwrite files that exist")

    exp = sub.add_parser(
        "export", help="export the model for its runtime into model.cache_dir now, checked against torch"
    )
    exp.add_argument("--config", "-c", required=True, help="path to the TOML config")
    exp.add_argument(
        "--for",
        dest="target",
        choices=["triton"],
        help="write a model repository for this inference server instead (with DIR)",
    )
    exp.add_argument("directory", nargs="?", metavar="DIR", help="with --for: where the repository goes")
    exp.add_argument(
        "--state-dir",
        metavar="DIR",
        help="resolve relative paths (cache_dir) against DIR, as the service does",
    )

    pl = sub.add_parser(
        "plan", help="measure this machine and say how many cameras a replica carries (docs/scale-out.md)"
    )
    pl.add_argument("--fps", type=float, required=True, help="frames per second each camera is watched at")
    pl.add_argument("--cameras", type=int, required=True, help="how many cameras the site has")
    pl.add_argument(
        "--config", "-c", help="take the model settings (backend, runtime, device) from this config"
    )
    pl.add_argument("--model", help="model file (default: the config's, else the shipped demo model)")
    pl.add_argument("--imgsz", help="inference size, or 'auto' (default: the config's, else 640)")
    pl.add_argument("--batch", type=int, help="frames per inference (default: cameras, at most max_batch)")
    pl.add_argument("--seconds", type=float, default=5.0, help="how long to measure (default: %(default)s)")
    pl.add_argument(
        "--clip", help="a video of your cameras' resolution and codec (default: the shipped sample)"
    )

    sub.add_parser("schema", help="print the JSON Schema of the events (docs/events.md)")
    sub.add_parser("version", help="print the version")
    return p


def _summary(config: Config, labels: frozenset[str], runtime: str = "torch") -> str:
    from .redact import redact_url

    m = config.model
    lines = [
        f"model:   {m.backend} {m.path} (runtime {runtime}, device {m.device}, batch {m.max_batch}, "
        f"min confidence {m.min_confidence})",
        f"labels:  {', '.join(sorted(labels)) or '-'}",
        f"tracker: {config.tracker.kind}",
    ]
    for clf in config.classifiers:
        lines.append(
            f"classifier: {clf.name} = {clf.kind} {clf.path} on the {clf.region} of {clf.label} tracks, "
            f"every {clf.refresh_seconds:g} s, {clf.min_looks} looks to decide"
        )
    lines.append(f"cameras: {len(config.cameras)}")
    for cam in config.cameras:
        extra = [f"{cam.fps:g} fps cap"] if cam.fps else []
        if cam.kind == "file":
            extra += ["realtime"] * cam.realtime + ["loop"] * cam.loop
        lines.append(
            f"  - {cam.name}: {cam.kind} {redact_url(cam.url)}" + (f" ({', '.join(extra)})" if extra else "")
        )
        for name in cam.zones:
            lines.append(f"      zone {name}: {len(cam.zones[name].points)} points")
        for name in cam.lines:
            lines.append(f"      line {name}")
        for rule in cam.rules:
            timing = [
                f"{key} {getattr(rule, key):g} s"
                for key in ("min_duration", "max_seconds", "clear_after", "cooldown")
                if hasattr(rule, key)
            ]
            where = getattr(rule, "zone", None) or getattr(rule, "line", None)
            lines.append(
                f"      rule {rule.name}: {rule.kind}{f' on {where}' if where else ''}, {', '.join(timing)}"
            )
    s = config.sinks
    lines.append("sinks:")
    lines.append(f"  - jsonl: {s.jsonl.path}" if s.jsonl.enabled else "  - jsonl: off")
    lines.append(f"  - snapshots: {s.snapshots.dir}" if s.snapshots.enabled else "  - snapshots: off")
    if s.mqtt.enabled:
        tls = ", TLS" if s.mqtt.tls.enabled else ""
        lines.append(
            f"  - mqtt: {s.mqtt.host}:{s.mqtt.port}{tls}, QoS {s.mqtt.qos}, "
            f"topics {s.mqtt.topic_prefix}/..., outbox {s.mqtt.outbox.path}"
        )
    else:
        lines.append("  - mqtt: off")
    return "\n".join(lines)


def _cmd_check(args: argparse.Namespace) -> int:
    from .preflight import checked_detector, current_user

    if args.env_file:
        from .envfile import read_env_file

        os.environ.update(read_env_file(Path(args.env_file)))
    if args.credentials_dir:
        if not Path(args.credentials_dir).is_dir():
            raise ConfigError([f"--credentials-dir {args.credentials_dir}: not a directory"])
        os.environ["CREDENTIALS_DIRECTORY"] = str(Path(args.credentials_dir).resolve())
    if args.state_dir:
        os.environ["STATE_DIRECTORY"] = str(Path(args.state_dir).resolve())
    try:
        fleet = load_config(args.config)
    except ConfigError as exc:
        # Files or secrets were wrong but the rest resolved: check the outputs, the model and the labels
        # too, so one run lists every problem.
        if exc.partial is None or any(p.startswith("model.") for p in exc.problems):
            raise
        try:
            checked_detector(exc.partial)
        except ConfigError as more:
            raise ConfigError(exc.problems + more.problems) from None
        raise
    shard = _shard(args)
    config = select(fleet, shard)
    if shard is not None:
        print(describe_assignment(fleet, shard.count))
        print(f"this replica: shard {shard} (host {config.replica.host}), {len(config.cameras)} camera(s)")
    detector = checked_detector(config)
    if config.classifiers:  # loaded as run will load them: a bad directory fails here, not at start
        from .attributes.stage import AttributeStage

        AttributeStage(config.classifiers)
    print(_summary(config, detector.labels, detector.runtime))
    print(f"outputs: writable by {current_user()}")
    probe = getattr(detector, "probe", None)  # remote inference (slicing wraps the detector: not probed)
    if callable(probe):  # a server that is down is not a config error: run retries it
        from .detectors import InferenceUnavailable

        try:
            print(f"inference server: {probe()}")
        except InferenceUnavailable as exc:
            print(f"warning: inference server not answering ({exc}); run starts and retries", file=sys.stderr)
    from .modelcard import domain_warnings

    for warning in domain_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print("config OK")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from .detectors.yolo import export_ahead
    from .logs import setup_logging

    if args.state_dir:
        os.environ["STATE_DIRECTORY"] = str(Path(args.state_dir).resolve())
    config = load_config(args.config)
    setup_logging("WARNING", config.log_format)
    if args.target == "triton":
        from .detectors.triton import export_triton

        if not args.directory:
            raise ConfigError(["export --for triton: say where the model repository goes (DIR)"])
        print(export_triton(config.model, Path(args.directory)))
        return EXIT_OK
    if args.directory:
        raise ConfigError([f"export: {args.directory}: a directory is only for --for triton"])
    print(export_ahead(config.model))
    return EXIT_OK


def _cmd_plan(args: argparse.Namespace) -> int:
    from .config import ModelConfig, build
    from .detectors import create_detector
    from .logs import setup_logging
    from .planner import batch_for, run_plan
    from .resources import DEMO_MODEL, SAMPLE_CLIP, resolve_package_path

    setup_logging("WARNING", "text")
    if args.fps <= 0 or args.cameras < 1 or args.seconds <= 0:
        raise ConfigError(["plan: --fps and --seconds must be positive and --cameras at least 1"])
    tracking = None
    if args.config:
        fleet = load_config(args.config)
        model, tracking = fleet.model, fleet.tracker
    else:  # exports go to the user's cache, not into the working directory
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sitewatch" / "models"
        model = ModelConfig.model_validate(
            {"path": str(resolve_package_path(DEMO_MODEL)), "cache_dir": cache}
        )
    update: dict[str, object] = {}
    if args.model:
        path = (
            resolve_package_path(args.model) if args.model.startswith("pkg:") else Path(args.model).resolve()
        )
        if not path.is_file():
            raise ConfigError([f"--model {args.model}: model file not found"])
        update["path"] = str(path)
    if args.imgsz:
        update["imgsz"] = args.imgsz if args.imgsz == "auto" else int(args.imgsz)
    if update:
        model = ModelConfig.model_validate({**model.model_dump(), **update})
    clip = Path(args.clip) if args.clip else resolve_package_path(SAMPLE_CLIP)
    if not clip.is_file():
        raise ConfigError([f"--clip {clip}: no such file"])
    batch = args.batch or batch_for(args.cameras, model.max_batch)
    detector = build("model.path", lambda: create_detector(model))
    try:
        print(
            run_plan(
                model,
                detector,
                clip,
                fps=args.fps,
                cameras=args.cameras,
                seconds=args.seconds,
                batch=batch,
                tracking=tracking,
            )
        )
    finally:
        detector.close()
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from .logs import setup_logging
    from .notify import Notifier, extending_start
    from .preflight import checked_detector

    shard = _shard(args)
    if args.http_port is not None and not 0 <= args.http_port <= 65535:
        raise ConfigError([f"--http-port {args.http_port}: must be 0..65535"])

    def prepare(fleet: Config) -> Config:
        """This replica's cameras of the file's fleet, with the command line's overrides."""
        if args.http_port is not None:
            service = fleet.service.model_copy(update={"http_port": args.http_port})
            fleet = fleet.model_copy(update={"service": service})
        return select(fleet, shard)

    config = prepare(load_config(args.config))
    setup_logging(args.log_level or config.log_level, config.log_format)
    if shard is not None:
        mine = ", ".join(c.name for c in config.cameras) or "none (more replicas than cameras)"
        log.info("shard %s of the fleet's %d camera(s): %s", shard, len(config.replica.fleet.cameras), mine)
    notifier = Notifier()
    with extending_start(notifier, "loading the model (a first start exports it for its runtime)"):
        detector = checked_detector(config)
    from .modelcard import domain_warnings

    for warning in domain_warnings(config):
        log.warning("%s", warning)

    from .pipeline import Pipeline
    from .service import Service

    pipeline = Pipeline(config, detector, max_frames=args.max_frames)
    try:
        service = Service(pipeline, Path(args.config), notifier=notifier, prepare=prepare)
    except OSError as exc:
        raise ConfigError(
            [
                f"service.http_port: cannot listen on {config.service.http_host}:"
                f"{config.service.http_port}: {exc.strerror}"
            ]
        ) from None

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            log.info("received SIGHUP: reloading %s", args.config)
            service.request_reload()
            return
        log.info("received %s: shutting down", signal.Signals(signum).name)
        pipeline.stop()

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.signal(sig, _on_signal) for sig in handled}
    try:
        summary = service.run(duration=args.duration)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for (camera, rule, kind), n in sorted(summary.events.items()):
        log.info("events: camera=%s rule=%s %s=%d", camera, rule, kind, n)
    if summary.failed and len(summary.failed) == len(config.cameras):
        log.error("no camera could be read (%s)", ", ".join(summary.failed))
        return EXIT_FAILURE
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay

    config = load_config(args.config)
    missing = [p for p in args.logs if not Path(p).is_file()]
    if missing:
        raise ConfigError([f"{p}: track log not found" for p in missing])
    try:
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                counts = replay(config, map(Path, args.logs), out)
        else:
            counts = replay(config, map(Path, args.logs), sys.stdout)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    for (camera, rule, kind), n in sorted(counts.items()):
        print(f"{camera} {rule} {kind}: {n}", file=sys.stderr)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .logs import setup_logging

    setup_logging("WARNING")
    return run_demo(Path(args.data), args.seconds, Path(args.clip) if args.clip else None)


def _cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import init

    written = init(Path(args.directory), args.systemd, Path(args.unit_dir), force=args.force)
    print(f"wrote {written.config}")
    if written.unit is not None:
        print(f"wrote {written.unit}")
    for warning in written.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"next: edit {written.config} (cameras, model, rules), then")
    print(
        f"  sitewatch check-config {written.config}"
        + (" --state-dir /var/lib/sitewatch" if written.unit else "")
    )
    if written.unit is not None:
        print("  systemctl daemon-reload && systemctl enable --now sitewatch")
    else:
        print(f"  sitewatch run --config {written.config}")
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from .evaluate import evaluate
    from .logs import setup_logging

    setup_logging("WARNING")
    config = load_config(args.config)
    if len(config.cameras) != 1:
        raise ConfigError([f"cameras: eval scores one camera; this config has {len(config.cameras)}"])
    for path in (args.truth, args.tracks):
        if path and not Path(path).is_file():
            raise ConfigError([f"{path}: file not found"])
    scores, frames = evaluate(config, Path(args.truth), Path(args.tracks) if args.tracks else None)
    rows = [s.row() for s in scores]
    if args.json:
        print(json.dumps({"frames": frames, "rules": rows}, indent=2))
        return EXIT_OK
    print(f"{frames} frames")
    header = ("rule", "condition", "alerts", "truth", "precision", "recall", "dupes", "delay p50")
    print("{:<20} {:<18} {:>6} {:>6} {:>9} {:>7} {:>6} {:>9}".format(*header))
    for r in rows:
        delay = "-" if r["delay_p50_s"] is None else f"{r['delay_p50_s']:.2f} s"
        print(f"{r['rule']:<20} {r['condition']:<18} {r['alerts']:>6} {r['intervals']:>6} "
              f"{r['precision']:>9.3f} {r['recall']:>7.3f} {r['duplicates']:>6} {delay:>9}")  # fmt: skip
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        rc = _main(argv)
        sys.stdout.flush()  # a reader that left shows up here, not in a traceback at interpreter exit
        return rc
    except BrokenPipeError:
        # `sitewatch eval --json | head`: the reader has what it wanted; end quietly like other Unix
        # tools, with the rest of stdout going nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"sitewatch {__version__}")
        return EXIT_OK
    if args.command == "schema":
        import json

        from .events import event_schema

        print(json.dumps(event_schema(), indent=2))
        return EXIT_OK
    if args.command == "run" and args.max_frames is not None and args.max_frames < 1:
        print("error: --max-frames must be at least 1", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "demo" and args.seconds is not None and not 0 < args.seconds < 1e6:
        print("error: --seconds must be a positive number", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.command == "check-config":
            return _cmd_check(args)
        if args.command == "replay":
            return _cmd_replay(args)
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "eval":
            return _cmd_eval(args)
        if args.command == "init":
            return _cmd_init(args)
        if args.command == "export":
            return _cmd_export(args)
        if args.command == "plan":
            return _cmd_plan(args)
        return _cmd_run(args)
    except ConfigError as exc:
        # Under journald each line carries the error priority, so `journalctl -p err` shows why the
        # service would not start (the unit's RestartPreventExitStatus=2 keeps systemd from retrying).
        prefix = "<3>" if os.environ.get("JOURNAL_STREAM") else ""
        where = getattr(args, "config", None)
        print(f"{prefix}config error in {where}:" if where else f"{prefix}error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"{prefix}  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception:
        if args.command != "run":
            raise
        log.critical("internal error; exiting (please report this)", exc_info=True)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
