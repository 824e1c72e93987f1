"""Append-only files of whole lines (the JSONL event log, track logs) that survive write errors.

A write that fails half-way — a full disk, a read-only remount, a power cut — can leave a partial last
line. ``LineLog`` opens the file for each append (events are rare and fsynced anyway; track-log lines
come in batches), cuts away any partial last line a failed write left, and writes with unbuffered
``write`` calls: a retried line is written exactly once and readers never meet a torn line. Holding no
descriptor between appends also lets an operator move the file away or remount the disk.

With ``rotate_daily``, the first append of a new UTC day renames the file to ``<stem>-YYYY-MM-DD<suffix>``
(the day its lines were written) and starts a new one; the retention worker (daemon/retention.py)
compresses and deletes rotated files, never the current one. A rename is all the writer does.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def rotated_name(path: Path, day: str, n: int = 0) -> Path:
    """``events.jsonl`` → ``events-2026-11-30.jsonl`` (``.1``, ``.2``... if that day was rotated before)."""
    return path.with_name(f"{path.stem}-{day}{f'.{n}' if n else ''}{path.suffix}")


_ROTATED = re.compile(r"^(?P<stem>.+)-\d{4}-\d{2}-\d{2}(\.\d+)?$")


def rotated_from(path: Path, suffix: str) -> str | None:
    """The stem of the log that ``path`` is a rotated piece of (``rotated_name``'s inverse; a trailing
    ``.gz`` from compression is allowed), or None."""
    name = path.name.removesuffix(".gz")
    if not name.endswith(suffix):
        return None
    found = _ROTATED.match(name.removesuffix(suffix))
    return found.group("stem") if found else None


class LineLog:
    def __init__(
        self,
        path: Path,
        *,
        fsync: bool = False,
        rotate_daily: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.fsync = fsync
        self.rotate_daily = rotate_daily
        self.clock = clock
        self._day: str | None = None
        """UTC day of the lines in the current file (from its mtime when we find one)."""

    def append(self, data: bytes) -> None:
        """Append ``data`` (one or more whole lines, ending in a newline). Raises OSError on failure;
        the next call starts from the last whole line again."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.rotate_daily:
            self._rotate(utc_day(self.clock()))
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

    def _rotate(self, today: str) -> None:
        if self._day is None:
            try:
                self._day = utc_day(self.path.stat().st_mtime)
            except FileNotFoundError:
                self._day = today
        if self._day == today:
            return
        try:
            if self.path.stat().st_size > 0:
                n = 0
                while rotated_name(self.path, self._day, n).exists():
                    n += 1
                os.rename(self.path, rotated_name(self.path, self._day, n))
        except FileNotFoundError:
            pass  # moved away by someone else: a new file starts either way
        self._day = today


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
