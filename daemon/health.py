"""HTTP endpoints for supervisors and Prometheus: ``/livez``, ``/readyz`` and ``/metrics``.

``/livez`` answers 503 when the inference loop has stopped turning (a wedged detector) or a worker has
kept crashing past its bound; ``/readyz`` until the model is loaded and sources are started, while no
camera delivers frames, and while any worker is failing (the body lists why). Bound to 127.0.0.1 by
default: the metrics name cameras and rules, which a site may not want on its network.

The server cannot be starved: each connection must send its request within ``timeout`` seconds, and at
most ``max_connections`` are served at once — more are answered 503 and closed at once — so idle or slow
clients can neither pile up threads nor use up the process's file descriptors (which cameras need).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .supervisor import SupervisedThread

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]

_BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _BoundedServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # a burst of connects waits in the kernel's queue, not in SYN retries

    def __init__(self, address: tuple[str, int], handler: Any, max_connections: int) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        self.refused = 0
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            try:
                request.settimeout(0.5)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        live: Check,
        ready: Check,
        registry: CollectorRegistry,
        timeout: float = 10.0,
        max_connections: int = 16,
    ) -> None:
        checks = {"/livez": live, "/readyz": ready}

        request_timeout = timeout

        class Handler(BaseHTTPRequestHandler):
            timeout = request_timeout  # StreamRequestHandler applies it to each connection's socket

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path in checks:
                    ok, why = checks[path]()
                    self._send(200 if ok else 503, (why + "\n").encode(), "text/plain; charset=utf-8")
                else:
                    self._send(404, b"not found: try /livez, /readyz or /metrics\n", "text/plain")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("_Server", (_BoundedServer,), {"address_family": family})
        self.server: _BoundedServer = server_class((host, port), Handler, max_connections)
        self.port = int(self.server.server_address[1])
        self._thread = SupervisedThread("http", lambda _w: self.server.serve_forever())

    def start(self) -> None:
        self._thread.start()
        log.info(
            "health and metrics on http://%s:%d/ (livez, readyz, metrics)",
            self.server.server_address[0],
            self.port,
        )

    def stop(self) -> None:
        self._thread.stop_event.set()
        self.server.shutdown()
        self.server.server_close()
