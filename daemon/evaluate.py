"""Alert quality against ground truth: event-level precision, recall and alert delay per rule.

The clip is run through the detector and tracker once (or a recorded track log is used), then the
config's rules are replayed on the tracks, so thresholds can be tuned and re-scored quickly. Ground
truth (docs/eval.md) gives each worker's box per frame and the intervals during which each condition
held: ``no_hardhat`` (scored against ``ppe`` rules) and ``zone:<name>`` (``zone_intrusion`` rules on
that zone).

An alert matches a ground-truth interval of the same worker when the condition it reports began within
``TOLERANCE_S`` of the interval: from 1 s before its start (a detector sees a worker's feet cross a zone
edge a few frames before the drawn truth does) to ``min_duration + 1`` s after its end. The worker of
an alert is the one whose box overlaps the alert's box most in the frame that started it. Precision:
matched alerts / alerts; recall: intervals long enough to alert on (at least ``min_duration``) with an
alert / those intervals, so it never exceeds 1 (a correct alert on a shorter interval counts for
precision only); duplicates: correct alerts about an interval already found; delay: alert start minus
interval start. Events carry the deciding frame's index, which picks the truth frame to compare with.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, PpeRuleConfig, ZoneIntrusionRuleConfig
from .geometry import iou_matrix
from .recorder import read_records
from .replay import replay

TOLERANCE_S = 1.0


@dataclass
class RuleScore:
    rule: str
    condition: str
    alerts: int = 0
    matched_alerts: int = 0
    intervals: int = 0
    found_intervals: int = 0
    duplicates: int = 0
    """Correct alerts about an interval that an earlier alert had already found."""
    delays: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched_alerts / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        return self.found_intervals / self.intervals if self.intervals else 1.0

    def row(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "condition": self.condition,
            "alerts": self.alerts,
            "intervals": self.intervals,
            "duplicates": self.duplicates,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "delay_p50_s": round(float(np.median(self.delays)), 2) if self.delays else None,
            "delay_max_s": round(max(self.delays), 2) if self.delays else None,
        }


def condition_of(rule: Any) -> str | None:
    if isinstance(rule, PpeRuleConfig) and ("hardhat" in rule.required or "hardhat" in rule.attributes):
        return "no_hardhat"  # by a detected hat, or by the second stage's hardhat attribute
    if isinstance(rule, ZoneIntrusionRuleConfig):
        return f"zone:{rule.zone}"
    return None


def score(
    config: Config, truth: dict[str, Any], events: Iterable[dict[str, Any]], t0: float
) -> list[RuleScore]:
    """Score start events (their times are clip time + ``t0``) against the ground truth."""
    cam = config.cameras[0]
    fps = float(truth["fps"])
    frames = truth["frames"]
    scores: dict[str, RuleScore] = {}
    margins: dict[str, float] = {}
    min_durations: dict[str, float] = {}
    for rule in cam.rules:
        cond = condition_of(rule)
        if cond is None:
            continue
        min_d = min_durations[rule.name] = float(getattr(rule, "min_duration", 0.0))
        margins[rule.name] = min_d + TOLERANCE_S
        s = scores[rule.name] = RuleScore(rule.name, cond)
        s.intervals = sum(
            1 for iv in truth["violations"] if iv["condition"] == cond and _long_enough(iv, min_d, fps)
        )
    found: set[tuple[str, int, float]] = set()
    for ev in events:
        if ev["type"] != "start" or ev["rule"]["name"] not in scores:
            continue
        s = scores[ev["rule"]["name"]]
        s.alerts += 1
        started = _seconds(ev["frame_ts"]) - t0
        index = ev.get("frame_index")
        if index is None:  # events from before frame_index: map the time onto the clip
            index = round(started * fps)
        index = min(len(frames) - 1, max(0, int(index)))
        people = frames[index]
        if not people or ev["bbox"] is None:
            continue
        iou = iou_matrix(
            np.array([ev["bbox"]["xyxy"]], np.float32), np.array([p["box"] for p in people], np.float32)
        )
        if iou.max() < 0.3:
            continue
        worker = people[int(iou.argmax())]["id"]
        begun = _seconds(ev["started_at"]) - t0
        for iv in truth["violations"]:
            if (
                iv["worker"] == worker
                and iv["condition"] == s.condition
                and (iv["start"] - TOLERANCE_S <= begun <= iv["end"] + margins[s.rule])
            ):
                s.matched_alerts += 1
                key = (s.rule, worker, iv["start"])
                if key in found:
                    s.duplicates += 1
                elif _long_enough(iv, min_durations[s.rule], fps):  # shorter ones are not in the truth count
                    found.add(key)
                    s.found_intervals += 1
                    s.delays.append(started - iv["start"])
                break
    return list(scores.values())


def _long_enough(interval: dict[str, Any], min_duration: float, fps: float) -> bool:
    """Whether a truth interval lasts long enough for a rule with this min_duration to alert on it."""
    return float(interval["end"]) - float(interval["start"]) + 1 / fps >= min_duration


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def evaluate(config: Config, truth_path: Path, tracks: Path | None = None) -> tuple[list[RuleScore], int]:
    """Run (or reuse) the detection and tracking, replay the rules, score them. Returns the scores and
    the number of frames."""
    truth = json.loads(truth_path.read_text())
    if tracks is None:
        with tempfile.TemporaryDirectory(prefix="sitewatch-eval-") as scratch:  # nothing left behind
            return evaluate(config, truth_path, _record_tracks(config, Path(scratch)))
    first = next(iter(read_records(tracks)))
    t0 = first.ts - first.index / float(truth["fps"])  # the clip's time zero on the log's clock
    out = io.StringIO()
    replay(config, [tracks], out)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    return score(config, truth, events, t0), sum(1 for _ in read_records(tracks))


def _record_tracks(config: Config, record_dir: Path) -> Path:
    """Run detection and tracking over the (single) camera's clip with every sink off, logging to
    ``record_dir``; returns the log."""
    from .detectors import load_detector
    from .pipeline import Pipeline

    cam = config.cameras[0].model_copy(
        update={"record_tracks": True, "realtime": False, "loop": False, "rules": []}
    )
    sinks = config.sinks.model_copy(
        update={
            k: getattr(config.sinks, k).model_copy(update={"enabled": False})
            for k in ("jsonl", "snapshots", "mqtt")
        }
    )
    run_config = config.model_copy(
        update={
            "cameras": [cam],
            "sinks": sinks,
            "record_dir": record_dir,
            # one log to score, even across midnight
            "retention": config.retention.model_copy(update={"rotate_daily": False}),
        }
    )
    pipeline = Pipeline(run_config, load_detector(config))
    pipeline.start()
    while pipeline.worker_alive:
        pipeline.stop_event.wait(0.2)
    pipeline.shutdown()
    return record_dir / f"{cam.name}.jsonl"
