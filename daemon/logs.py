"""Logging set-up: one format, credentials scrubbed once at the sink (the handler), third parties quieted.

Under systemd (``$JOURNAL_STREAM`` set) text lines carry syslog priority prefixes (``<3>``) and no time
stamp, so ``journalctl -p err`` filters them and journald's own time is not repeated. ``json`` writes
one object per line for log shippers.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .redact import redact_text

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks credentials in the whole line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class JournalFormatter(RedactingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return redact_text(json.dumps(data, ensure_ascii=False))


class Throttle:
    """Rate-limits a repeating error: the first occurrence is logged at once (with its traceback, if
    any), repeats are counted, and the count is logged at most once per ``interval`` seconds. ``clear``
    ends the episode (logging the count still owed), so the next occurrence is logged at once again.

    A fault that repeats for every event (a full disk, a broker that is down) thus costs one line a
    minute, not one line per event per sink.
    """

    def __init__(
        self, logger: logging.Logger, interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._episodes: dict[str, list[float]] = {}  # message → [last logged at, repeats since]
        self._lock = threading.Lock()

    def log(self, level: int, message: str, detail: str = "", *, exc_info: bool = False) -> bool:
        """Log ``message`` (the key: keep variable parts in ``detail``) unless it was logged within the
        interval. Returns True when a line was written."""
        now = self.clock()
        with self._lock:
            episode = self._episodes.get(message)
            if episode is None:
                self._episodes[message] = [now, 0]
                repeats = -1
            else:
                episode[1] += 1
                if now - episode[0] < self.interval:
                    return False
                repeats, span = int(episode[1]), now - episode[0]
                episode[0], episode[1] = now, 0
        text = f"{message}: {detail}" if detail else message
        if repeats < 0:
            self.logger.log(level, "%s", text, exc_info=exc_info)
        else:
            self.logger.log(level, "%s (%d times in the last %.0f s)", text, repeats, span)
        return True

    def clear(self, message: str, level: int = logging.INFO, recovered: str = "") -> None:
        """The fault is over: log what was still owed, and ``recovered`` if given."""
        with self._lock:
            episode = self._episodes.pop(message, None)
        if episode is None:
            return
        if episode[1]:
            self.logger.log(logging.WARNING, "%s (%d more times before it stopped)", message, int(episode[1]))
        if recovered:
            self.logger.log(level, "%s", recovered)

    def active(self, message: str) -> bool:
        with self._lock:
            return message in self._episodes


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (as logging's last-resort
    handler does), so a command run in-process after stderr was replaced never logs to a closed file."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = _StderrHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter(JOURNAL_FORMAT))
    else:
        handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Ultralytics logs every prediction and settings chatter at INFO; keep only its warnings.
    for noisy in ("ultralytics", "libav", "PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
