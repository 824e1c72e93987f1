"""The state file: what must survive a restart besides undelivered events — line counts and the
operator's overrides (a rule switched on or off, or snoozed, by an MQTT command).

One small SQLite file (``state_file``, default ``sitewatch-data/state.sqlite``, beside the outbox), WAL
with ``synchronous=FULL`` like the outbox: a committed count survives a crash and a power cut. The
pipeline reads it once at start (``StateStore.load``); after that only ``StateSink`` writes it, on its own
sink thread, from the rule states the engine emits — so the inference loop never waits for the disk, and
a full or read-only disk is retried (sinks/base.py) while the counts go on in memory.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from sitewatch.daemon.events import CameraStatus, EventMessage
from sitewatch.daemon.sources import CameraState
from sitewatch.daemon.state import LineTally, Override, RuleState, SavedState, StateMessage

from .base import Sink

log = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS line_counts (
        camera TEXT NOT NULL, rule TEXT NOT NULL, counts TEXT NOT NULL, suppressed INTEGER NOT NULL,
        PRIMARY KEY (camera, rule))""",
    """CREATE TABLE IF NOT EXISTS overrides (
        camera TEXT NOT NULL, rule TEXT NOT NULL, enabled INTEGER, snoozed_until REAL,
        PRIMARY KEY (camera, rule))""",
)


class StateStore:
    """Opens (or creates) the state file. A file that is not a readable state database (a torn disk,
    someone else's file) is moved aside as ``<name>.unreadable-<time>`` with one error line, and counting
    starts again: losing counts is bad, a daemon that cannot start is worse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._camera_enabled: dict[str, bool] = {}
        try:
            self._db = self._open()
            self.load()
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}")
            log.error(
                "state file %s is unreadable (%s); moved to %s, line counts start again", path, exc, aside
            )
            self._db.close()
            path.rename(aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db = db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        for statement in _SCHEMA:
            db.execute(statement)
        return db

    def load(self) -> SavedState:
        with self._lock:
            counts = self._db.execute("SELECT camera, rule, counts, suppressed FROM line_counts").fetchall()
            overrides = self._db.execute(
                "SELECT camera, rule, enabled, snoozed_until FROM overrides"
            ).fetchall()
        state = SavedState()
        for camera, rule, text, suppressed in counts:
            state.tallies[(camera, rule)] = LineTally(
                {str(k): int(v) for k, v in json.loads(text).items()}, int(suppressed)
            )
        for camera, rule, enabled, snoozed in overrides:
            state.overrides[(camera, rule)] = Override(None if enabled is None else bool(enabled), snoozed)
        # what the file says of each camera it names (no row: enabled); unnamed cameras are written once
        named = {c: o.enabled is not False for (c, rule), o in state.overrides.items() if rule == ""}
        with self._lock:
            self._camera_enabled = named
        return state

    def save(self, state: RuleState) -> None:
        """Keep a rule's counts and overrides (an I/O error propagates: the sink worker retries)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._save(state)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _save(self, state: RuleState) -> None:
        if state.counts is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO line_counts VALUES (?, ?, ?, ?)",
                (state.camera, state.rule, json.dumps(state.counts), state.suppressed or 0),
            )
        enabled = int(state.enabled) if state.enabled_by == "command" else None
        if enabled is None and state.snoozed_until is None:
            self._db.execute(
                "DELETE FROM overrides WHERE camera = ? AND rule = ?", (state.camera, state.rule)
            )
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?)",
                (state.camera, state.rule, enabled, state.snoozed_until),
            )

    def save_camera(self, camera: str, *, enabled: bool) -> None:
        """A camera switched off by a command stays off across restarts (rule '' holds the camera's).
        Statuses come every 30 s per camera: only a change is written, so the file (an SD card, often)
        is not synced every half minute for nothing."""
        with self._lock:
            if self._camera_enabled.get(camera) == enabled:
                return
            if enabled:
                self._db.execute("DELETE FROM overrides WHERE camera = ? AND rule = ''", (camera,))
            else:
                self._db.execute("INSERT OR REPLACE INTO overrides VALUES (?, '', 0, NULL)", (camera,))
            self._camera_enabled[camera] = enabled  # only once written: a failed write is retried

    def close(self) -> None:
        with self._lock:
            self._db.close()


class StateSink(Sink):
    """Writes rule states to the state file (events are the other sinks' business)."""

    name = "state"

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def write(self, message: EventMessage) -> None:
        pass

    def write_state(self, state: StateMessage) -> None:
        if isinstance(state, RuleState):
            self.store.save(state)

    def write_status(self, status: CameraStatus) -> None:
        self.store.save_camera(status.camera, enabled=status.state != CameraState.DISABLED.value)

    def close(self) -> None:
        self.store.close()
