"""A detector that replays known boxes from a JSONL script: deterministic tests and rule tuning.

Each line is ``{"camera": NAME, "frame": INDEX, "detections": [[x1, y1, x2, y2, confidence, label], ...]}``;
a frame without a line has no detections. An optional line ``{"labels": [...]}`` declares labels the
script may not use but the rules may name, and ``{"stall": {"camera": NAME, "frame": INDEX, "seconds":
S}}`` makes the "model" hang for S seconds on that frame, as a wedged GPU would (for watchdog tests).
Labels pass through the config's ``labels``/``classes`` map and ``min_confidence`` like a real model's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..config import ConfigError, ModelConfig
from ..types import Detections, Frame
from .base import Detector, LabelMap


class ScriptedDetector(Detector):
    runtime = "scripted"

    def warm_up(self, frame_size: tuple[int, int]) -> None:
        """Nothing to warm: replaying a script has no first-use cost."""

    def __init__(self, cfg: ModelConfig) -> None:
        self.name = Path(cfg.path).name
        self._min_conf = cfg.min_confidence
        raw: dict[tuple[str, int], list[tuple[float, float, float, float, float, str]]] = {}
        self._stalls: dict[tuple[str, int], float] = {}
        declared: set[str] = set()
        lineno = 0
        try:
            with open(cfg.path, encoding="utf-8") as fh:
                for line in fh:
                    lineno += 1
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if "labels" in row:
                        declared.update(row["labels"])
                        continue
                    if "stall" in row:
                        st = row["stall"]
                        self._stalls[(str(st["camera"]), int(st["frame"]))] = float(st["seconds"])
                        continue
                    dets = [(*map(float, d[:5]), str(d[5])) for d in row["detections"]]
                    raw[(str(row["camera"]), int(row["frame"]))] = dets  # type: ignore[assignment]
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            where = f" line {lineno}" if lineno else ""
            raise ConfigError([f"model.path: bad detection script {cfg.path}{where}: {exc!r}"]) from None
        names = sorted(declared | {d[5] for dets in raw.values() for d in dets})
        self._map = LabelMap(dict(enumerate(names)), cfg)
        self._class = {name: i for i, name in enumerate(names)}
        self._script = {key: self._to_detections(rows) for key, rows in raw.items()}
        self.labels = self._map.labels
        self.unknown_sources = self._map.unknown_sources

    def _to_detections(self, rows: list[tuple[float, float, float, float, float, str]]) -> Detections:
        rows = [r for r in rows if r[4] >= self._min_conf]
        if not rows:
            return Detections.empty()
        return self._map.apply(
            np.array([r[:4] for r in rows], np.float32),
            np.array([r[4] for r in rows], np.float32),
            np.array([self._class[r[5]] for r in rows], np.int64),
        )

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        for f in frames:
            stall = self._stalls.get((f.camera, f.index))
            if stall:
                time.sleep(stall)
        empty = Detections.empty()
        return [self._script.get((f.camera, f.index), empty) for f in frames]
