"""Appends every event as one JSON line: flushed (and by default fsynced) per event, so a crash or a
power cut leaves every line that was written complete."""

from __future__ import annotations

import os
from pathlib import Path

from daemon.events import EventMessage

from .base import Sink


class JsonlSink(Sink):
    name = "jsonl"

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the sink's life

    def write(self, message: EventMessage) -> None:
        self._fh.write(message.event.to_json() + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
