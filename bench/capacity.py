"""The capacity planner (``sitewatch plan``) against what a replica really sustains, in one run.

    .venv/bin/python bench/capacity.py [--fps 10] [--imgsz 320] [--seconds 30]

Measures with the planner (the demo model on the shipped clip, the configured ``auto`` runtime), then
runs the real pipeline on this machine with as many cameras as the planner says one replica carries,
and with twice as many, each camera the shipped clip looped in real time at ``--fps``: the frames per
second the pipeline judged per camera against the ``--fps`` asked, and the inference thread's busy
share. Prints a Markdown table (docs/scale-out.md quotes it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from speed import quiet, run_pipeline  # noqa: E402

from sitewatch.daemon.config import parse_config  # noqa: E402
from sitewatch.daemon.detectors import create_detector  # noqa: E402
from sitewatch.daemon.planner import batch_for, measure, plan, report  # noqa: E402
from sitewatch.daemon.resources import DEMO_MODEL, SAMPLE_CLIP, resolve_package_path  # noqa: E402


def site_config(cameras: int, fps: float, imgsz: int, data: Path) -> dict[str, object]:
    clip = str(resolve_package_path(SAMPLE_CLIP))
    return {
        "model": {
            "path": str(resolve_package_path(DEMO_MODEL)), "imgsz": imgsz, "cache_dir": str(data / "models")
        },
        "service": {"http_port": 0},
        "sinks": {"jsonl": {"path": str(data / "events.jsonl")}, "snapshots": {"enabled": False}},
        "cameras": [
            {"name": f"cam{i}", "url": clip, "realtime": True, "loop": True, "fps": fps,
             "rules": [{"kind": "ppe", "name": "hardhat"}]}
            for i in range(cameras)
        ],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="capacity-") as scratch, quiet():
        data = Path(scratch)
        probe = parse_config(site_config(8, args.fps, args.imgsz, data), data)
        detector = create_detector(probe.model)
        m = measure(
            detector, probe.model, resolve_package_path(SAMPLE_CLIP), batch=batch_for(8, 8), seconds=5
        )
        p = plan(m, args.fps, 40)
        print(report(m, p))
        rows = []
        for cameras in (p.per_replica, 2 * p.per_replica):
            config = parse_config(site_config(cameras, args.fps, args.imgsz, data), data)
            pipeline, elapsed = run_pipeline(config, detector, seconds=args.seconds)
            summary = pipeline.summary()
            inference = pipeline.metrics.inference_seconds.collect()[0]
            total = next(s.value for s in inference.samples if s.name.endswith("_sum"))
            rows.append((cameras, summary.total_frames / elapsed / cameras, total / elapsed))
            time.sleep(1)
        detector.close()
    print()
    print(f"| cameras at {args.fps:g} fps | judged fps per camera | inference thread busy (detect only) |")
    print("|---|---|---|")
    for cameras, per_camera, busy_share in rows:
        print(f"| {cameras} | {per_camera:.2f} | {100 * busy_share:.0f} % |")


if __name__ == "__main__":
    main()
