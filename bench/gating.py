"""What detection gating saves on a mostly static clip, and whether the alerts stay the same."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from speed import Setup, pipeline_config, run_pipeline

from sitewatch.daemon.detectors import create_detector

RUNS: dict[str, dict[str, Any]] = {
    "ungated": {},
    "detect_every = 5": {"detect_every": 5},
    "motion_gate": {"motion_gate": True},
}


def gating_savings(setup: Setup, clip: Path, scratch: Path, runtime: str = "auto") -> dict[str, Any]:
    runs: dict[str, dict[str, Any]] = {}
    detector = None
    for name, camera in RUNS.items():
        with tempfile.TemporaryDirectory(prefix="gating-", dir=scratch) as data:
            config = pipeline_config(replace(setup, clip=clip), runtime, 1, Path(data), **camera)
            detector = detector or create_detector(config.model)
            pipeline, _ = run_pipeline(config, _Reusable(detector))
            cam = pipeline.cameras["cam0"]
            events = [json.loads(line) for line in (Path(data) / "events.jsonl").read_text().splitlines()]
            starts = [e["media_ts"] for e in events if e["type"] == "start"]
            runs[name] = {
                "frames": cam.processed,
                "detector_calls": cam.processed - cam.held,
                "alerts": len(starts),
                "start_media_ts": starts,
            }
    base = runs["ungated"]
    fps = 10.0
    for name, x in runs.items():
        if name == "ungated":
            continue
        interval = RUNS[name].get("detect_every", 1) / fps
        x["same_alerts"] = len(x["start_media_ts"]) == len(base["start_media_ts"]) and all(
            abs(a - b) <= interval + 1e-6
            for a, b in zip(x["start_media_ts"], base["start_media_ts"], strict=True)
        )
    fewest = min(x["detector_calls"] for x in runs.values())
    return {"runs": runs, "reduction": round(base["detector_calls"] / max(1, fewest), 2)}


class _Reusable:
    """The same loaded detector for every run (the pipeline closes its detector on shutdown)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass
