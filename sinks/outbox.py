"""A durable outbox: messages are committed to SQLite before they are published, and deleted only
once the broker has acknowledged them.

SQLite in WAL mode with ``synchronous=FULL``: a committed message survives a crash of the daemon and a
power cut. Rows come back in insertion order, so a backlog is delivered in order. The outbox is bounded
by age and by total payload size; whatever is dropped to stay within them is counted and logged, never
silent.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Outbox:
    def __init__(self, path: Path, *, max_age_s: float = 7 * 86400, max_bytes: int = 1 << 30) -> None:
        self.path = path
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self.dropped = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self._bytes = int(
            self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()[0]
        )

    def add(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> int:
        """Commit a message; returns its id. Prunes old or excess messages first."""
        with self._lock:
            self._prune(len(payload))
            cur = self._db.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?)",
                (topic, payload, qos, int(retain), time.time()),
            )
            self._bytes += len(payload)
            return int(cur.lastrowid or 0)

    def pending(self, after: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """Messages with an id above ``after``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [OutboxMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4])) for r in rows]

    def delete_many(self, message_ids: list[int]) -> None:
        """The broker has these messages: forget them, one transaction per chunk. Deleted ids are removed
        from ``message_ids``; on sqlite3.Error (the disk refuses) the rest stay there for a later try."""
        while message_ids:
            chunk = message_ids[:500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    size = self._db.execute(
                        f"SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE id IN ({marks})", chunk
                    ).fetchone()[0]
                    self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                self._bytes -= int(size)
            del message_ids[:500]  # done: not deleted again if a later chunk fails

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _prune(self, incoming: int) -> None:
        cutoff = time.time() - self.max_age_s
        old = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE created < ?", (cutoff,)
        ).fetchone()
        if old[0]:
            self._db.execute("DELETE FROM outbox WHERE created < ?", (cutoff,))
            self._bytes -= int(old[1])
            self._count_drop(int(old[0]), f"older than {self.max_age_s / 86400:g} days")
        dropped = 0
        while self._bytes + incoming > self.max_bytes:
            row = self._db.execute("SELECT id, LENGTH(payload) FROM outbox ORDER BY id LIMIT 1").fetchone()
            if row is None:
                break
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
            self._bytes -= int(row[1])
            dropped += 1
        if dropped:
            self._count_drop(dropped, f"over the {self.max_bytes} byte limit")

    def _count_drop(self, n: int, why: str) -> None:
        self.dropped += n
        log.error(
            "outbox %s: dropped %d undelivered message(s) %s (%d dropped in all)",
            self.path,
            n,
            why,
            self.dropped,
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
