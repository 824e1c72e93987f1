"""The daemon's HTTP server: uvicorn running the Starlette app (daemon/web/app.py) on a thread of its own.

One port serves ``/livez``, ``/readyz`` and ``/metrics`` for supervisors and Prometheus, and the web page
with its JSON API for people. Loopback by default (``service.http_host``): the metrics and the page name
cameras and rules, and the page shows the cameras.

The server cannot be starved, which uvicorn alone does not promise (it times out idle keep-alive
connections, but not a connection that never sends its request): ``_GuardedH11`` closes a connection
that has not sent a complete request within ``http_timeout`` seconds, and answers a connection beyond
``http_max_connections`` with 503 at once and closes it — so idle or slow clients can neither pile up
nor use up the process's file descriptors, which cameras need. Requests run on the server's own event
loop; nothing here touches the inference thread, which only publishes references the app reads.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..supervisor import SupervisedThread

log = logging.getLogger(__name__)

BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a bound on connections and a deadline for the first request."""

    request_timeout = 10.0
    max_connections = 16

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            transport.write(BUSY)
            transport.close()
            self.transport = transport
            return
        super().connection_made(transport)
        self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        if self not in self.connections:
            return  # refused in connection_made: whatever it sends goes nowhere
        super().data_received(data)

    def _too_slow(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and hasattr(self, "_deadline"):
            self._deadline.cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        if self not in self.connections:
            return  # refused in connection_made: uvicorn never knew it
        if hasattr(self, "_deadline"):
            self._deadline.cancel()
        super().connection_lost(exc)


class WebServer:
    def __init__(
        self, host: str, port: int, app: Any, *, timeout: float = 10.0, max_connections: int = 16
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))  # here, so a taken port is an error at start and port 0 gets a port
        sock.listen(128)
        self.socket = sock
        self.host = host
        self.port = int(sock.getsockname()[1])
        protocol = type(
            "_Protocol", (_GuardedH11,), {"request_timeout": timeout, "max_connections": max_connections}
        )
        config = uvicorn.Config(
            app,
            http=protocol,
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_keep_alive=max(1, round(timeout)),
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self._thread = SupervisedThread("http", self._serve)

    def _serve(self, _worker: SupervisedThread) -> None:
        self.server.run(sockets=[self.socket])

    def start(self) -> None:
        self._thread.start()
        log.info(
            "web page, health and metrics on http://%s:%d/ (livez, readyz, metrics, api)",
            self.host,
            self.port,
        )

    def stop(self) -> None:
        self._thread.stop_event.set()
        self.server.should_exit = True
        self._thread.join(5.0)
        self.socket.close()
