"""What the web page costs inference: the same camera run twice side by side in one process, once
unwatched and once with viewers polling the page's API through the real HTTP server — the live view of
the camera and the camera list, as the page does (once a second each) times ``viewers``.

    .venv/bin/python bench/web.py [--model PT] [--clip MP4] [--viewers 4] [--seconds 30]

Part of ``python -m bench``; alone it prints its figures as JSON. The camera is paced (a live camera's
steady rate) so the figure that moves is latency, not throughput; a flat-out run is reported too.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_clips import bus_pan_clip  # noqa: E402
from speed import Setup, default_model, percentiles, pipeline_config, quiet, run_pipeline  # noqa: E402

from sitewatch.daemon.detectors import create_detector  # noqa: E402
from sitewatch.daemon.pipeline import Pipeline  # noqa: E402
from sitewatch.daemon.web.app import WebConfig, create_app  # noqa: E402
from sitewatch.daemon.web.server import WebServer  # noqa: E402
from sitewatch.daemon.web.site import PipelineSite  # noqa: E402


def _viewers(port: int, n: int, stop: threading.Event, served: list[int]) -> list[threading.Thread]:
    def view() -> None:
        base = f"http://127.0.0.1:{port}"
        while not stop.is_set():
            for path in ("/api/cameras/cam0/frame.jpg", "/api/cameras"):
                try:
                    with urllib.request.urlopen(base + path, timeout=5) as r:
                        r.read()
                        served.append(1)
                except OSError:
                    pass
            stop.wait(1.0)

    threads = [threading.Thread(target=view, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def _run(setup: Setup, scratch: Path, *, viewers: int, seconds: float | None, paced: bool) -> dict[str, Any]:
    extra = {"realtime": True, "loop": True} if paced else {}
    config = pipeline_config(setup, "auto", 1, scratch, **extra)
    stop = threading.Event()
    served: list[int] = []
    servers: list[WebServer] = []

    def watch(pipeline: Pipeline) -> None:
        if not viewers:
            return
        app = create_app(WebConfig(lambda: (True, "ok"), lambda: (True, "ok"), pipeline.metrics.registry,
                                   PipelineSite(pipeline), None, None))  # fmt: skip
        servers.append(WebServer("127.0.0.1", 0, app))
        servers[0].start()
        _viewers(servers[0].port, viewers, stop, served)

    pipeline, elapsed = run_pipeline(config, create_detector(config.model), seconds, before_start=watch)
    stop.set()
    for server in servers:
        server.stop()
    frames = pipeline.summary().total_frames
    return {"viewers": viewers, "paced": paced, "fps": frames / elapsed, "frames": frames,
            "requests": len(served), **percentiles(list(pipeline.latencies))}  # fmt: skip


def web_cost(setup: Setup, viewers: int = 4, seconds: float = 30.0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch:
        for paced in (False, True):
            runs = [_run(setup, Path(scratch), viewers=v, seconds=seconds if paced else None, paced=paced)
                    for v in (0, viewers)]  # fmt: skip
            key = "paced" if paced else "flat_out"
            out[key] = runs
            out[f"{key}_fps_ratio"] = round(runs[1]["fps"] / runs[0]["fps"], 3)
            if runs[0]["p99_ms"] is not None and runs[1]["p99_ms"] is not None:
                out[f"{key}_p99_ms_added"] = round(runs[1]["p99_ms"] - runs[0]["p99_ms"], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--clip", type=Path)
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--viewers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sitewatch-bench-") as tmp:
        model, labels = (args.model, {}) if args.model else default_model()
        clip = args.clip or bus_pan_clip(Path(tmp) / "bus-pan.mp4")
        setup = Setup(model, clip, args.imgsz, labels, Path(tmp) / "models", "cpu")
        with quiet():
            print(json.dumps(web_cost(setup, args.viewers, args.seconds), indent=1))


if __name__ == "__main__":
    main()
