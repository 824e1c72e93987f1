"""Retention: old snapshots, event logs and track logs are deleted so the disk never fills up.

A sweep runs at start and every ``retention.interval_seconds`` on its own supervised thread, so no sink
ever waits for it. It gzips rotated logs (``<name>-YYYY-MM-DD.jsonl`` → ``.jsonl.gz``; the writers only
rename, daemon/linelog.py), then for each kind deletes files older than ``max_days`` and, oldest first,
files while the kind's total is above ``max_mb``. The logs being written (``events.jsonl``,
``<camera>.jsonl``) are never compressed or deleted, but count towards the total; a snapshot or clip
being written (``.jpg.tmp``, ``.mp4.tmp``) is left alone for an hour. The MQTT outbox keeps its own bounds
(``sinks.mqtt.outbox``). A file that cannot be deleted is logged (throttled), counted, and marks the
worker degraded in ``/readyz`` until a sweep succeeds.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .config import DAY, Config, RetentionLimit
from .linelog import rotated_from
from .logs import Throttle
from .supervisor import SupervisedThread

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MEDIA = {"snapshots": ".jpg", "clips": ".mp4"}
"""Kinds kept as one file per alert, by file suffix (they may share a directory)."""
STALE_TMP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Target:
    """One kind of data: where it lives and how to tell its files."""

    kind: str
    directory: Path
    limit: RetentionLimit
    logs_of: tuple[Path, ...] = ()
    """For logs: the files being written; their rotated siblings are this kind's files."""
    owns_directory: bool = False
    """Every log in the directory is this kind's (the track log directory): also the rotated logs of
    cameras that no longer record."""

    def files(self) -> Iterator[Path]:
        if not self.directory.is_dir():
            return
        if self.kind in MEDIA:
            names = (MEDIA[self.kind], MEDIA[self.kind] + ".tmp")
            yield from (p for p in self.directory.rglob("*") if p.name.endswith(names) and p.is_file())
            return
        for p in self.directory.iterdir():
            if p.is_file() and (p in self.logs_of or self.is_rotated(p)):
                yield p

    def is_rotated(self, path: Path) -> bool:
        """Whether ``path`` is a rotated (maybe gzipped) piece of one of this kind's logs."""
        for current in self.logs_of:
            stem = rotated_from(path, current.suffix)
            if stem is not None and (self.owns_directory or stem == current.stem):
                return True
        return False


@dataclass
class SweepResult:
    deleted_files: Counter[str] = field(default_factory=Counter)
    deleted_bytes: Counter[str] = field(default_factory=Counter)
    compressed: int = 0
    errors: list[str] = field(default_factory=list)


def targets(config: Config) -> list[Target]:
    r = config.retention
    out = []
    if config.sinks.jsonl.enabled:
        path = config.sinks.jsonl.path
        out.append(Target("events", path.parent, r.events, logs_of=(path,)))
    if config.sinks.snapshots.enabled:
        out.append(Target("snapshots", config.sinks.snapshots.dir, r.snapshots))
    if config.sinks.clips.enabled:
        out.append(Target("clips", config.sinks.clips.dir, r.clips))
    recorded = tuple(config.record_dir / f"{c.name}.jsonl" for c in config.cameras if c.record_tracks)
    if recorded:
        out.append(Target("tracks", config.record_dir, r.tracks, logs_of=recorded, owns_directory=True))
    return out


def sweep(targets: list[Target], now: float, compress: bool = True) -> SweepResult:
    """One pass over every kind; never raises for a file it cannot handle (the error is returned)."""
    result = SweepResult()
    for target in targets:
        if compress and target.logs_of:
            for path in list(target.files()):
                if path not in target.logs_of and path.suffix != ".gz":
                    try:
                        _gzip(path)
                        result.compressed += 1
                    except OSError as exc:
                        result.errors.append(f"cannot compress {path}: {exc.strerror or exc}")
        _enforce(target, now, result)
    return result


def _enforce(target: Target, now: float, result: SweepResult) -> None:
    entries: list[tuple[float, int, Path]] = []
    for path in target.files():
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        entries.append((st.st_mtime, st.st_size, path))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    limit = target.limit
    max_age = limit.max_days * DAY
    for mtime, size, path in entries:
        if path in target.logs_of:
            continue  # being written
        if path.suffix == ".tmp":
            if now - mtime < STALE_TMP_SECONDS:
                continue  # a snapshot being written right now
        elif not (max_age and now - mtime > max_age) and not (limit.max_mb and total > limit.max_mb * MIB):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            result.errors.append(f"cannot delete {path}: {exc.strerror or exc}")
            continue
        total -= size
        result.deleted_files[target.kind] += 1
        result.deleted_bytes[target.kind] += size


def _gzip(path: Path) -> None:
    """``path`` → ``path.gz`` (written aside, fsynced, renamed), keeping its mtime; then ``path`` goes."""
    final = path.with_name(path.name + ".gz")
    tmp = path.with_name(path.name + ".gz.tmp")
    st = path.stat()
    try:
        with open(path, "rb") as src, open(tmp, "wb") as raw:
            with gzip.GzipFile(filename=path.name, mode="wb", fileobj=raw, mtime=int(st.st_mtime)) as gz:
                shutil.copyfileobj(src, gz, 1 << 20)
            raw.flush()
            os.fsync(raw.fileno())
        os.utime(tmp, (st.st_atime, st.st_mtime))
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    path.unlink()


class RetentionWorker:
    """Sweeps on a supervised thread: at start, then every ``interval`` seconds until closed."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.targets = targets(config)
        self.compress = config.retention.compress
        self.interval = config.retention.interval_seconds
        self.clock = clock
        self.deleted_files: Counter[str] = Counter()
        self.deleted_bytes: Counter[str] = Counter()
        self.errors = 0
        self._stop = threading.Event()
        self._throttle = Throttle(log)
        self._thread = SupervisedThread("retention", self._run, stop=self._stop)

    def start(self) -> None:
        if self.targets:
            self._thread.start()

    def _run(self, worker: SupervisedThread) -> None:
        while not self._stop.is_set():
            self.run_once(worker)
            self._stop.wait(self.interval)

    def run_once(self, worker: SupervisedThread | None = None) -> SweepResult:
        result = sweep(self.targets, self.clock(), self.compress)
        self.deleted_files.update(result.deleted_files)
        self.deleted_bytes.update(result.deleted_bytes)
        for kind, n in result.deleted_files.items():
            log.info("retention: deleted %d %s file(s), %.1f MiB", n, kind, result.deleted_bytes[kind] / MIB)
        key = "retention cannot clean up; old files stay on disk"
        if result.errors:
            self.errors += len(result.errors)
            self._throttle.log(logging.ERROR, key, f"{result.errors[0]} ({len(result.errors)} this sweep)")
            if worker is not None:
                worker.degraded(f"retention: {result.errors[0]}")
        elif self._throttle.active(key):
            self._throttle.clear(key, recovered="retention cleaning up again")
            if worker is not None:
                worker.recovered()
        return result

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
