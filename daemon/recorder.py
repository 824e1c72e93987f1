"""Detection and track logs, for tuning rules without running the detector (``sitewatch replay``).

Each recorded frame is one JSON line::

    {"camera": "gate", "index": 12, "ts": 1764500000.125, "size": [1920, 1080],
     "detections": [[x1, y1, x2, y2, confidence, label], ...],
     "tracks": [[track_id, x1, y1, x2, y2, confidence, label], ...], "removed": [track_id, ...]}

Lines are written by a thread of their own, so the inference loop never waits on the disk; if the disk
falls far behind, frames are dropped from the log (counted and logged), never from detection.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .types import Detections, Frame, Tracks

log = logging.getLogger(__name__)


def _round(a: np.ndarray) -> list[Any]:
    return np.round(a.astype(np.float64), 2).tolist()  # type: ignore[no-any-return]


def frame_record(frame: Frame, detections: Detections, tracks: Tracks, removed: tuple[int, ...]) -> str:
    det_rows = zip(_round(detections.xyxy), detections.confidence, detections.label, strict=True)
    dets = [[*box, round(float(c), 4), str(lab)] for box, c, lab in det_rows]
    track_rows = zip(tracks.track_id, _round(tracks.xyxy), tracks.confidence, tracks.label, strict=True)
    trks = [[int(t), *box, round(float(c), 4), str(lab)] for t, box, c, lab in track_rows]
    return json.dumps(
        {"camera": frame.camera, "index": frame.index, "ts": round(frame.ts, 6), "size": list(frame.size),
         "detections": dets, "tracks": trks, "removed": list(removed)},
        separators=(",", ":"),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    camera: str
    index: int
    ts: float
    size: tuple[int, int]
    detections: Detections
    tracks: Tracks
    removed: tuple[int, ...]


def read_records(path: Path) -> Iterator[RecordedFrame]:
    """Parse a log written by ``Recorder``; raises ValueError naming the line for a malformed one."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                dets = Detections.from_rows([tuple(d) for d in r["detections"]])  # type: ignore[misc]
                rows = r["tracks"]
                tracks = Tracks(
                    track_id=np.array([t[0] for t in rows], np.int64),
                    xyxy=np.array([t[1:5] for t in rows], np.float32).reshape(-1, 4),
                    confidence=np.array([t[5] for t in rows], np.float32),
                    label=np.array([t[6] for t in rows], dtype=np.str_),
                    detection=np.full(len(rows), -1, np.int64),
                )
                yield RecordedFrame(
                    r["camera"],
                    int(r["index"]),
                    float(r["ts"]),
                    (int(r["size"][0]), int(r["size"][1])),
                    dets,
                    tracks,
                    tuple(int(i) for i in r["removed"]),
                )
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise ValueError(f"{path}:{lineno}: not a track record: {exc!r}") from None


_STOP = object()


class Recorder:
    """Appends frame records to ``<directory>/<camera>.jsonl`` on a background thread."""

    def __init__(self, directory: Path, capacity: int = 2000) -> None:
        self.directory = directory
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, str] | object] = queue.Queue(capacity)
        self._files: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def record(self, frame: Frame, detections: Detections, tracks: Tracks, removed: tuple[int, ...]) -> None:
        try:
            self._queue.put_nowait((frame.camera, frame_record(frame, detections, tracks, removed)))
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning(
                    "track recorder is behind the disk: %d frame(s) left out of the log", self.dropped
                )

    def _run(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        while (item := self._queue.get()) is not _STOP:
            assert isinstance(item, tuple)
            camera: str = item[0]
            line: str = item[1]
            fh = self._files.get(camera)
            if fh is None:
                fh = self._files[camera] = open(self.directory / f"{camera}.jsonl", "a", encoding="utf-8")  # noqa: SIM115
            fh.write(line + "\n")
            if self._queue.empty():
                fh.flush()
        for fh in self._files.values():
            fh.close()

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)
