"""Append-only files of whole lines (the JSONL event log, track logs) that survive write errors.

A write that fails half-way — a full disk, a read-only remount, a power cut — can leave a partial last
line. ``LineLog`` opens the file for each append (events are rare and fsynced anyway; track-log lines
come in batches), cuts away any partial last line a failed write left, and writes with unbuffered
``write`` calls: a retried line is written exactly once and readers never meet a torn line. Holding no
descriptor between appends also lets an operator move the file away (rotation) or remount the disk.
"""

from __future__ import annotations

import os
from pathlib import Path


class LineLog:
    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync

    def append(self, data: bytes) -> None:
        """Append ``data`` (one or more whole lines, ending in a newline). Raises OSError on failure;
        the next call starts from the last whole line again."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            _cut_partial_line(fd)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)


def _cut_partial_line(fd: int, chunk: int = 1 << 16) -> None:
    """Truncate the file after its last newline (to empty if it has none). Costs one 1-byte read when
    the file is whole, which is every time but after a failure."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - chunk)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            os.ftruncate(fd, start + newline + 1)
            return
        end = start
    os.ftruncate(fd, 0)
