"""Appends every event as one JSON line: written whole (and by default fsynced) per event, so a crash
or a power cut leaves every line that was written complete. A failed write (a full disk) raises; the
sink worker keeps the event and retries it, and the retried line is written exactly once. With
``rotate_daily`` the first event of a new UTC day moves the old file to ``<name>-YYYY-MM-DD.jsonl``."""

from __future__ import annotations

from pathlib import Path

from sitewatch.daemon.events import EventMessage
from sitewatch.daemon.linelog import LineLog

from .base import Sink


class JsonlSink(Sink):
    name = "jsonl"

    def __init__(self, path: Path, *, fsync: bool = True, rotate_daily: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._log = LineLog(path, fsync=fsync, rotate_daily=rotate_daily)

    def write(self, message: EventMessage) -> None:
        self._log.append((message.event.to_json() + "\n").encode())
