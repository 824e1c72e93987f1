"""Writes the annotated JPEG of the frame that started each alert, at ``<dir>/<camera>/<alert_id>.jpg``.

The relative path is built by the rule engine from the camera name (validated to ``[A-Za-z0-9_.-]``) and a
generated id, never from free text, and is checked again here so nothing can be written outside ``dir``.
The file is written to a temporary name and renamed, so a reader never sees half a JPEG; a failed write
removes its temporary file and raises, and the sink worker retries it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sitewatch.daemon.events import EventMessage

from .annotate import encode_jpeg
from .base import Sink


class SnapshotSink(Sink):
    name = "snapshots"

    def __init__(self, directory: Path, *, jpeg_quality: int = 90) -> None:
        self.directory = directory.resolve()
        self.jpeg_quality = jpeg_quality
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, message: EventMessage) -> None:
        req = message.snapshot
        if req is None:
            return
        target = (self.directory / req.relpath).resolve()
        if not target.is_relative_to(self.directory):
            raise ValueError(f"snapshot path {req.relpath!r} escapes {self.directory}")
        data = encode_jpeg(req, self.jpeg_quality)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".jpg.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk must not also fill up with half JPEGs
            raise
