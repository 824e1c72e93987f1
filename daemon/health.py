"""HTTP endpoints for supervisors and Prometheus: ``/livez``, ``/readyz`` and ``/metrics``.

``/livez`` answers 503 when the inference loop has stopped turning (a wedged detector), ``/readyz``
until the model is loaded and sources are started, and while no camera delivers frames. Bound to
127.0.0.1 by default: the metrics name cameras and rules, which a site may not want on its network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]


class HealthServer:
    def __init__(
        self, host: str, port: int, *, live: Check, ready: Check, registry: CollectorRegistry
    ) -> None:
        checks = {"/livez": live, "/readyz": ready}

        class Handler(BaseHTTPRequestHandler):
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

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info(
            "health and metrics on http://%s:%d/ (livez, readyz, metrics)",
            self.server.server_address[0],
            self.port,
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
