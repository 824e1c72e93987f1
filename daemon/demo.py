"""``sitewatch demo``: the whole product on a synthetic site, with no camera, GPU, broker or internet.

Uses the sample clip and the demo PPE model that ship inside the package (daemon/resources.py), so it
runs from any directory after a plain ``pip install``; a hard-hat rule, the clip's restricted zone
(from its ground truth) and a gate counter; writes events and snapshots to ``./sitewatch-data/``,
publishes to MQTT as well when a broker answers on localhost:1883, shows progress, and ends with a
summary.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .config import ConfigError, check_labels, parse_config
from .resources import DEMO_MODEL, SAMPLE_CLIP, packaged


def broker_answers(host: str = "localhost", port: int = 1883) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def clip_zone(clip: Path) -> list[list[float]]:
    """The restricted zone drawn into a generated clip, from its ground truth (docs/eval.md); the
    shipped sample's when the clip has none."""
    truth = clip.with_name(clip.name + ".truth.json")
    if not truth.is_file():
        truth = packaged(SAMPLE_CLIP + ".truth.json")
    zone: list[list[float]] = json.loads(truth.read_text())["zones"]["restricted"]
    return zone


def demo_config(clip: Path, data: Path, mqtt: bool) -> dict[str, Any]:
    return {
        "model": {
            "path": DEMO_MODEL,
            "min_confidence": 0.25,
            "imgsz": 320,
            "device": "auto",
            "cache_dir": str(data / "models"),
        },
        "service": {"http_port": 0},
        "state_file": str(data / "state.sqlite"),
        "cameras": [
            {
                "name": "site",
                "url": str(clip),
                "zones": {"restricted": {"points": clip_zone(clip)}},
                "lines": {"gate": {"points": [[0.45, 0.2], [0.45, 0.95]], "inside": "right"}},
                "rules": [
                    {
                        "name": "hardhat",
                        "kind": "ppe",
                        "required": ["hardhat"],
                        "violation_labels": ["head"],
                        "min_duration": 1.0,
                        "clear_after": 1.0,
                        "cooldown": 10.0,
                    },
                    {
                        "name": "restricted-area",
                        "kind": "zone_intrusion",
                        "zone": "restricted",
                        "min_duration": 1.0,
                        "clear_after": 1.0,
                        "cooldown": 10.0,
                    },
                    {"name": "gate", "kind": "line_crossing", "line": "gate"},
                ],
            }
        ],
        "sinks": {
            "jsonl": {"path": str(data / "events.jsonl")},
            "snapshots": {"dir": str(data / "snapshots")},
            "clips": {"dir": str(data / "snapshots")},
            "mqtt": {"enabled": mqtt, "host": "localhost", "outbox": {"path": str(data / "outbox.sqlite")}},
        },
    }


def run_demo(data: Path, seconds: float | None = None, clip: Path | None = None) -> int:
    """Watch ``clip`` (default: the shipped sample), or its first ``seconds``; 0 when done."""
    from .detectors import load_detector
    from .pipeline import Pipeline
    from .service import Service

    try:
        packaged(DEMO_MODEL)
        clip = clip or packaged(SAMPLE_CLIP)
    except FileNotFoundError as exc:
        raise ConfigError([str(exc)]) from None
    if not clip.is_file():
        raise ConfigError([f"--clip {clip}: video file not found"])
    total, fps = _frame_count(clip)
    max_frames = None if seconds is None else max(1, round(seconds * fps))
    if max_frames is not None:
        total = min(total, max_frames)
    mqtt = broker_answers()
    print(
        "MQTT: a broker answers on localhost:1883; events are also published under sitewatch/site/events"
        if mqtt
        else "MQTT: no broker on localhost:1883; events go to the JSONL file only (start mosquitto for MQTT)",
        file=sys.stderr,
    )
    config = parse_config(demo_config(clip, data.resolve(), mqtt), base_dir=Path.cwd())
    detector = load_detector(config)
    check_labels(config, detector.labels)
    pipeline = Pipeline(config, detector, max_frames=max_frames)
    service = Service(pipeline, Path("<demo>"))
    done = threading.Event()
    started = time.monotonic()

    def show() -> None:
        n = pipeline.frames_processed()
        rate = n / max(time.monotonic() - started, 1e-6)
        events = sum(pipeline.events.values())
        print(
            f"\r  {n}/{total} frames  {rate:5.1f} fps  {events} events", end="", file=sys.stderr, flush=True
        )

    def progress() -> None:
        while not done.wait(1.0):
            show()

    ticker = threading.Thread(target=progress, daemon=True)
    ticker.start()
    summary = service.run()
    done.set()
    ticker.join(2)
    show()  # the final count: the line ends at 100 % when every frame was processed
    print(file=sys.stderr)
    rules: dict[str, int] = {}
    for (_camera, rule, kind), n in summary.events.items():
        if kind == "start":
            rules[rule] = rules.get(rule, 0) + n
    fps = summary.total_frames / max(summary.elapsed_s, 1e-6)
    rows = [
        ("frames", f"{summary.total_frames} in {summary.elapsed_s:.1f} s ({fps:.1f} fps)"),
        ("runtime", f"{detector.runtime} on {detector.device}"),
        *((f"alerts: {rule}", str(n)) for rule, n in sorted(rules.items())),
        ("events", str(config.sinks.jsonl.path)),
        ("snapshots", str(config.sinks.snapshots.dir)),
        ("mqtt", "published to localhost:1883" if mqtt else "off (no broker)"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0


def _frame_count(clip: Path) -> tuple[int, float]:
    """Frames in the clip and its frame rate (for --seconds)."""
    import av

    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            return int(stream.frames), float(stream.average_rate or 10)
    except (av.FFmpegError, IndexError) as exc:
        raise ConfigError([f"{clip}: not a readable video ({exc})"]) from None
