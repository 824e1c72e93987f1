"""Logging set-up: one format, credentials scrubbed once at the sink (the handler), third parties quieted."""

from __future__ import annotations

import logging
import sys

from .redact import redact_text

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks credentials in the whole line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Ultralytics logs every prediction and settings chatter at INFO; keep only its warnings.
    for noisy in ("ultralytics", "libav", "PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
