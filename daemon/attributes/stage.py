"""The second stage: attributes of confirmed tracks, decided off the detector's critical path.

The inference worker calls ``schedule`` after tracking each frame: for every classifier that serves the
camera, each confirmed track of its label is due for a *look* when it is first seen and then every
``refresh_seconds`` (never per frame). A due track's region (head, upper body or whole box, padded) is
cut from the frame — a small copy — and queued. The classifier thread ("attributes", supervised) takes
the queued crops in batches across tracks and cameras, runs each classifier once per batch, and adds
each look to its track's vote (``vote.py``). The rules read the decisions for the frame they judge with
``decisions``: a look lands a frame or two after its crop was taken, and a rule waits for a decided
vote anyway, so nothing in the inference loop waits for a classifier.

A full queue defers looks (the track stays due and is tried on the next frame) and is counted; a
classifier that raises on a batch loses those looks (counted, logged, the thread goes on).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..config import ClassifierConfig, build
from ..geometry import body_regions
from ..logs import Throttle
from ..supervisor import SupervisedThread
from ..types import Frame, Tracks
from .classifiers import Classifier, load_classifier
from .vote import Attributes, Decision, Vote

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LookRequest:
    camera: str
    track_id: int
    classifier: int
    crop: npt.NDArray[np.uint8]  # RGB


def crop_regions(
    image: npt.NDArray[np.uint8], boxes: npt.NDArray[np.float32], cfg: ClassifierConfig
) -> list[npt.NDArray[np.uint8] | None]:
    """Each box's configured region, padded and clipped to the frame, as an RGB copy (None: smaller
    than ``min_crop_px`` on either side, too few pixels to judge)."""
    h, w = image.shape[:2]
    regions = body_regions(boxes, cfg.head_fraction)[cfg.region]
    pad_x = (regions[:, 2] - regions[:, 0]) * cfg.padding
    pad_y = (regions[:, 3] - regions[:, 1]) * cfg.padding
    x1 = np.clip(np.floor(regions[:, 0] - pad_x), 0, w).astype(int)
    y1 = np.clip(np.floor(regions[:, 1] - pad_y), 0, h).astype(int)
    x2 = np.clip(np.ceil(regions[:, 2] + pad_x), 0, w).astype(int)
    y2 = np.clip(np.ceil(regions[:, 3] + pad_y), 0, h).astype(int)
    out: list[npt.NDArray[np.uint8] | None] = []
    for a, b, c, d in zip(x1.tolist(), y1.tolist(), x2.tolist(), y2.tolist(), strict=True):
        if c - a < cfg.min_crop_px or d - b < cfg.min_crop_px:
            out.append(None)
        else:
            out.append(np.ascontiguousarray(image[b:d, a:c, ::-1]))  # BGR frame → RGB crop
    return out


class AttributeStage:
    """The configured classifiers, their queue and thread, and every track's votes."""

    def __init__(self, configs: Sequence[ClassifierConfig]) -> None:
        self.configs = list(configs)
        self.classifiers: list[Classifier] = [
            build(f"classifiers[{i}].path", lambda c=cfg, i=i: load_classifier(c, i))  # type: ignore[misc]
            for i, cfg in enumerate(self.configs)
        ]
        size = max((c.queue_size for c in self.configs), default=1)
        self._queue: queue.Queue[LookRequest] = queue.Queue(maxsize=size)
        self._lock = threading.Lock()
        self._votes: dict[tuple[str, int], dict[str, Vote]] = {}
        self._decisions: dict[str, dict[int, dict[str, Decision]]] = {}
        self._due: dict[tuple[str, int, int], float] = {}  # (camera, classifier, track) → next look at
        self._live: set[tuple[str, int]] = set()  # tracks looked at and not yet gone (under _lock)
        self._busy = False
        self.looks: Counter[str] = Counter()
        self.deferred: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._throttle = Throttle(log)
        self._stop = threading.Event()
        self.thread = SupervisedThread("attributes", lambda _w: self._work(), stop=self._stop)

    @property
    def enabled(self) -> bool:
        return bool(self.classifiers)

    def start(self) -> None:
        if self.enabled:
            self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def warm_up(self) -> None:
        """One look per classifier at a grey crop, so first-use costs are paid before READY."""
        for clf in self.classifiers:
            clf.classify([np.full((clf.cfg.min_crop_px * 2, clf.cfg.min_crop_px * 2, 3), 114, np.uint8)])

    # --- the inference thread ------------------------------------------------------------------

    def schedule(self, frame: Frame, tracks: Tracks) -> None:
        """Queue a look at each track that is due (cheap: a few small crops, never a model call)."""
        for index, cfg in enumerate(self.configs):
            if cfg.cameras and frame.camera not in cfg.cameras:
                continue
            rows = np.flatnonzero(tracks.label == cfg.label)
            if len(rows) == 0:
                continue
            ids = tracks.track_id[rows].tolist()
            due = [
                k for k, tid in enumerate(ids) if self._due.get((frame.camera, index, tid), -1.0) <= frame.ts
            ]
            if not due:
                continue
            crops = crop_regions(frame.image, tracks.xyxy[rows[due]], cfg)
            for k, crop in zip(due, crops, strict=True):
                key = (frame.camera, index, ids[k])
                if crop is None:
                    continue  # too small now; looked at again as soon as it is big enough
                if key not in self._due:
                    with self._lock:
                        self._live.add((frame.camera, ids[k]))
                try:
                    self._queue.put_nowait(LookRequest(frame.camera, ids[k], index, crop))
                except queue.Full:
                    self.deferred[cfg.name] += 1
                    continue  # stays due: tried again on the next frame
                self._due[key] = frame.ts + cfg.refresh_seconds

    def decisions(self, camera: str) -> Attributes:
        """The camera's current decisions (a snapshot: safe to read while looks land)."""
        with self._lock:
            return {tid: dict(attrs) for tid, attrs in self._decisions.get(camera, {}).items()}

    def forget(self, camera: str, track_ids: Iterable[int]) -> None:
        """These tracks are gone: drop their votes and schedule."""
        gone = set(track_ids)
        if not gone:
            return
        with self._lock:
            for tid in gone:
                self._live.discard((camera, tid))
                self._votes.pop((camera, tid), None)
                self._decisions.get(camera, {}).pop(tid, None)
        for key in [k for k in self._due if k[0] == camera and k[2] in gone]:
            del self._due[key]

    def forget_camera(self, camera: str) -> None:
        with self._lock:
            self._live = {k for k in self._live if k[0] != camera}
            for vote_key in [k for k in self._votes if k[0] == camera]:
                del self._votes[vote_key]
            self._decisions.pop(camera, None)
        for key in [k for k in self._due if k[0] == camera]:
            del self._due[key]

    def idle(self) -> bool:
        """Nothing queued and no batch running (tests and shutdown wait for this)."""
        return self._queue.empty() and not self._busy

    def drain(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline or not self.thread.is_alive():
                return False
            time.sleep(0.01)
        return True

    # --- the classifier thread -----------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self._busy = True
            try:
                batch = [first]
                limit = max(c.max_batch for c in self.configs)
                while len(batch) < limit:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                for index in sorted({r.classifier for r in batch}):
                    self._classify(index, [r for r in batch if r.classifier == index])
            finally:
                self._busy = False

    def _classify(self, index: int, requests: list[LookRequest]) -> None:
        cfg, clf = self.configs[index], self.classifiers[index]
        for start in range(0, len(requests), cfg.max_batch):
            part = requests[start : start + cfg.max_batch]
            try:
                looks = clf.classify([r.crop for r in part])
            except Exception as exc:
                self.errors[cfg.name] += len(part)
                self._throttle.log(
                    logging.ERROR,
                    f"classifier {cfg.name!r} failed; skipping {len(part)} look(s)",
                    f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
                continue
            self.looks[cfg.name] += len(part)
            with self._lock:
                for req, value, conf in zip(part, looks.values, looks.confidence.tolist(), strict=True):
                    if (req.camera, req.track_id) not in self._live:
                        continue  # the track left while its look was queued
                    votes = self._votes.setdefault((req.camera, req.track_id), {})
                    vote = votes.get(cfg.name)
                    if vote is None:
                        vote = votes[cfg.name] = Vote(
                            min_looks=cfg.min_looks,
                            agreement=cfg.agreement,
                            min_confidence=cfg.min_confidence,
                            window=cfg.window,
                        )
                    decision = vote.add(value, conf)
                    self._decisions.setdefault(req.camera, {}).setdefault(req.track_id, {})[cfg.name] = (
                        decision
                    )
