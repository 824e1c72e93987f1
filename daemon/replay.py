"""Re-run the rules on recorded detections and tracks (``record_tracks = true``), without the detector.

Tuning ``min_duration``, zones or lines on a day of footage then takes seconds: edit the config, replay
the log, compare the events. Snapshots are not made (there are no images).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from .config import Config
from .events import EventMessage
from .recorder import read_records
from .rules import RuleEngine, build_engine
from .types import Frame

_PIXEL = np.zeros((1, 1, 3), np.uint8)


def _placeholder(size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """A frame-sized image that allocates nothing: the rules need the size, never the pixels."""
    w, h = size
    return np.broadcast_to(_PIXEL, (h, w, 3))


def replay(config: Config, logs: Iterable[Path], out: TextIO) -> Counter[tuple[str, str, str]]:
    """Write the events the config's rules produce on the logs as JSON lines; return counts by
    (camera, rule, type). Cameras in the logs but not in the config are skipped."""
    model = Path(config.model.path).name
    engines: dict[str, RuleEngine] = {
        cam.name: build_engine(cam, model=model, snapshots=False) for cam in config.cameras
    }
    counts: Counter[tuple[str, str, str]] = Counter()

    def emit(messages: list[EventMessage]) -> None:
        for m in messages:
            out.write(m.event.to_json() + "\n")
            counts[(m.event.camera, m.event.rule.name, m.event.type)] += 1

    for path in logs:
        for rec in read_records(path):
            engine = engines.get(rec.camera)
            if engine is not None:
                frame = Frame(rec.camera, rec.index, rec.ts, _placeholder(rec.size), rec.media_ts)
                emit(engine.process(frame, rec.detections, rec.tracks, rec.removed, rec.attributes))
    for engine in engines.values():
        emit(engine.close("shutdown"))
    return counts
