"""``sitewatch demo``: the whole product on a synthetic site, with no camera, GPU, broker or internet.

Uses the shipped clip ``samples/site.mp4`` (or generates one), the demo PPE model in ``models/``, a
hard-hat rule and a restricted zone; writes events and snapshots to ``./sitewatch-data/``, publishes to
MQTT as well when a broker answers on localhost:1883, shows progress, and ends with a summary.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .config import ConfigError, check_labels, parse_config
from .synthsite import DEMO_ZONE, make_clip

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "sitewatch-ppe-demo.pt"
SHIPPED_CLIP = REPO / "samples" / "site.mp4"


def broker_answers(host: str = "localhost", port: int = 1883) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def demo_config(clip: Path, data: Path, mqtt: bool) -> dict[str, Any]:
    return {
        "model": {"path": str(MODEL), "min_confidence": 0.25, "imgsz": 320, "device": "auto"},
        "service": {"http_port": 0},
        "cameras": [
            {
                "name": "site",
                "url": str(clip),
                "zones": {"restricted": {"points": DEMO_ZONE}},
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
                ],
            }
        ],
        "sinks": {
            "jsonl": {"path": str(data / "events.jsonl")},
            "snapshots": {"dir": str(data / "snapshots")},
            "mqtt": {"enabled": mqtt, "host": "localhost", "outbox": {"path": str(data / "outbox.sqlite")}},
        },
    }


def run_demo(data: Path, seconds: float | None = None) -> int:
    from .detectors import load_detector
    from .pipeline import Pipeline
    from .service import Service

    if not MODEL.is_file():
        raise ConfigError(
            [f"{MODEL}: the demo model is missing; train it with python tools/train_demo_model.py"]
        )
    clip = SHIPPED_CLIP
    if seconds is not None or not clip.is_file():
        clip = data / "demo" / f"site-{seconds or 60:g}s.mp4"
        if not clip.is_file():
            print(f"generating a {seconds or 60:g} s demo clip at {clip} ...", file=sys.stderr)
            make_clip(clip, seconds=seconds or 60.0)
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
    pipeline = Pipeline(config, detector)
    service = Service(pipeline, Path("<demo>"))
    total = _frame_count(clip)
    done = threading.Event()

    def progress() -> None:
        started = time.monotonic()
        while not done.wait(1.0):
            n = pipeline.frames_processed()
            fps = n / max(time.monotonic() - started, 1e-6)
            events = sum(pipeline.events.values())
            print(
                f"\r  {n}/{total} frames  {fps:5.1f} fps  {events} events",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)

    ticker = threading.Thread(target=progress, daemon=True)
    ticker.start()
    summary = service.run()
    done.set()
    ticker.join(2)
    rules: dict[str, int] = {}
    for (_camera, rule, kind), n in summary.events.items():
        if kind == "start":
            rules[rule] = rules.get(rule, 0) + n
    fps = summary.total_frames / max(summary.elapsed_s, 1e-6)
    rows = [
        ("frames", f"{summary.total_frames} in {summary.elapsed_s:.1f} s ({fps:.1f} fps)"),
        *((f"alerts: {rule}", str(n)) for rule, n in sorted(rules.items())),
        ("events", str(config.sinks.jsonl.path)),
        ("snapshots", str(config.sinks.snapshots.dir)),
        ("mqtt", "published to localhost:1883" if mqtt else "off (no broker)"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0


def _frame_count(clip: Path) -> int:
    import av

    with av.open(str(clip)) as container:
        return int(container.streams.video[0].frames)
