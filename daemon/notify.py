"""systemd's notification protocol (sd_notify), without a dependency: one datagram per message to the
``AF_UNIX`` socket in ``$NOTIFY_SOCKET`` (a path, or an abstract socket written ``@name``).

Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._sock: socket.socket | None = None
        if self._address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        owned = not pid or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 1e6 if usec.isdigit() and owned else 0.0
        """Seconds systemd waits for a WATCHDOG=1 before it kills us; 0 without a watchdog."""

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *lines: str) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:  # systemd gone or socket full: never fatal
            log.debug("sd_notify failed: %s", exc)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


EXTEND_EVERY_S = 10.0
EXTEND_BY_S = 60.0
EXTEND_LIMIT_S = 1800.0


@contextmanager
def extending_start(
    notifier: Notifier,
    status: str,
    every: float = EXTEND_EVERY_S,
    extend_by: float = EXTEND_BY_S,
    limit: float = EXTEND_LIMIT_S,
) -> Iterator[None]:
    """While a slow start-up step runs (the first export of a model on a small CPU can take minutes),
    ask systemd for more start time: after ``every`` seconds, and every ``every`` seconds after,
    ``EXTEND_TIMEOUT_USEC`` of ``extend_by`` with a STATUS line, for at most ``limit`` seconds (a step
    that hangs still times out). A step quicker than ``every`` sends nothing."""
    if not notifier.enabled:
        yield
        return
    done = threading.Event()

    def extend() -> None:
        waited = 0.0
        while not done.wait(every) and waited < limit:
            waited += every
            notifier.notify(f"EXTEND_TIMEOUT_USEC={int(extend_by * 1e6)}", f"STATUS={status}")

    thread = threading.Thread(target=extend, name="start-extend", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
