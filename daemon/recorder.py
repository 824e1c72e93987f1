"""Detection and track logs, for tuning rules without running the detector (``sitewatch replay``).

Each recorded frame is one JSON line::

    {"camera": "gate", "index": 12, "ts": 1764500000.125, "media_ts": 1.2, "size": [1920, 1080],
     "detections": [[x1, y1, x2, y2, confidence, label], ...],
     "tracks": [[track_id, x1, y1, x2, y2, confidence, label], ...], "removed": [track_id, ...],
     "attributes": {"7": {"hardhat": ["no", 0.93, 3]}}}

(``media_ts``: seconds into a file; null for live cameras. ``attributes``: with ``[[classifiers]]``, the
second stage's decisions — value or null, confidence, looks — of the tracks in the frame, so a replay
judges with the attributes the daemon had.)

Lines are written by a thread of their own, so the inference loop never waits on the disk; if the disk
falls far behind or fails, frames are dropped from the log (counted and logged), never from detection.
"""

from __future__ import annotations

import gzip
import json
import logging
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .attributes.vote import Attributes, Decision
from .linelog import LineLog
from .logs import Throttle
from .supervisor import SupervisedThread, WorkerState
from .types import Detections, Frame, Tracks

log = logging.getLogger(__name__)


def _round(a: np.ndarray) -> list[Any]:
    return np.round(a.astype(np.float64), 2).tolist()  # type: ignore[no-any-return]


def frame_record(
    frame: Frame,
    detections: Detections,
    tracks: Tracks,
    removed: tuple[int, ...],
    attributes: Attributes | None = None,
) -> str:
    det_rows = zip(_round(detections.xyxy), detections.confidence, detections.label, strict=True)
    dets = [[*box, round(float(c), 4), str(lab)] for box, c, lab in det_rows]
    track_rows = zip(tracks.track_id, _round(tracks.xyxy), tracks.confidence, tracks.label, strict=True)
    trks = [[int(t), *box, round(float(c), 4), str(lab)] for t, box, c, lab in track_rows]
    record: dict[str, Any] = {
        "camera": frame.camera, "index": frame.index, "ts": round(frame.ts, 6), "media_ts": frame.media_ts,
        "size": list(frame.size), "detections": dets, "tracks": trks, "removed": list(removed),
    }  # fmt: skip
    if attributes is not None:
        present = set(tracks.track_id.tolist())
        record["attributes"] = {
            str(tid): {name: [d.value, round(d.confidence, 4), d.looks] for name, d in attrs.items()}
            for tid, attrs in attributes.items()
            if tid in present
        }
    return json.dumps(record, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    camera: str
    index: int
    ts: float
    size: tuple[int, int]
    detections: Detections
    tracks: Tracks
    removed: tuple[int, ...]
    media_ts: float | None = None
    attributes: Attributes | None = None


def read_records(path: Path) -> Iterator[RecordedFrame]:
    """Parse a log written by ``Recorder``; raises ValueError naming the line for a malformed one."""
    opener = gzip.open if path.suffix == ".gz" else open  # retention compresses rotated logs
    with opener(path, "rt", encoding="utf-8") as fh:
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
                    None if r.get("media_ts") is None else float(r["media_ts"]),  # logs before it had none
                    None if "attributes" not in r else {
                        int(tid): {name: Decision(v[0], float(v[1]), int(v[2])) for name, v in attrs.items()}
                        for tid, attrs in r["attributes"].items()
                    },
                )  # fmt: skip
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise ValueError(f"{path}:{lineno}: not a track record: {exc!r}") from None


_STOP = object()


class Recorder:
    """Appends frame records to ``<directory>/<camera>.jsonl`` on a supervised background thread
    (with ``rotate_daily``, a new file each UTC day; the old one becomes ``<camera>-YYYY-MM-DD.jsonl``).

    Lines queued together are written with one call per camera. A write that fails (a full disk) loses
    those lines from the log — counted, logged once a minute, shown as degraded in ``/readyz`` — and the
    next batch tries again; a torn last line is cut away first (``LineLog``), so the log stays readable.
    """

    def __init__(self, directory: Path, capacity: int = 2000, *, rotate_daily: bool = False) -> None:
        self.directory = directory
        self.rotate_daily = rotate_daily
        directory.mkdir(parents=True, exist_ok=True)  # an unusable directory fails the build, not the thread
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, str] | object] = queue.Queue(capacity)
        self._files: dict[str, LineLog] = {}
        self._throttle = Throttle(log)
        self._thread = SupervisedThread("recorder", self._run)
        self._thread.start()

    def record(
        self,
        frame: Frame,
        detections: Detections,
        tracks: Tracks,
        removed: tuple[int, ...],
        attributes: Attributes | None = None,
    ) -> None:
        try:
            self._queue.put_nowait(
                (frame.camera, frame_record(frame, detections, tracks, removed, attributes))
            )
        except queue.Full:
            self.dropped += 1
            self._throttle.log(
                logging.WARNING,
                "track recorder is behind the disk: frames left out of the log",
                f"{self.dropped} in all",
            )

    def _run(self, worker: SupervisedThread) -> None:
        stopping = False
        while not stopping:
            batch: dict[str, list[str]] = {}
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                    break
                assert isinstance(item, tuple)
                batch.setdefault(item[0], []).append(item[1])
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            for camera, lines in batch.items():
                self._write(worker, camera, lines)

    def _write(self, worker: SupervisedThread, camera: str, lines: list[str]) -> None:
        log_file = self._files.get(camera)
        if log_file is None:
            log_file = self._files[camera] = LineLog(
                self.directory / f"{camera}.jsonl", rotate_daily=self.rotate_daily
            )
        try:
            log_file.append("".join(line + "\n" for line in lines).encode())
        except OSError as exc:
            self.dropped += len(lines)
            key = "track recorder cannot write; frames are left out of the track log"
            self._throttle.log(logging.ERROR, key, f"{exc} ({self.dropped} frames left out in all)")
            worker.degraded(f"cannot write track log: {exc}")
            return
        if worker.worker_state is WorkerState.DEGRADED:
            self._throttle.clear(
                "track recorder cannot write; frames are left out of the track log",
                recovered="track recorder writing again",
            )
            worker.recovered()

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("track recorder did not take the stop request within %.0f s", timeout)
            return
        self._thread.join(timeout)
