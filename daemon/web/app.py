"""The web page and its JSON API, as a Starlette app (served by daemon/web/server.py).

- ``/livez``, ``/readyz``: for supervisors (never behind auth: a probe cannot log in);
- ``/metrics``: Prometheus;
- ``/``: the page (daemon/web/static/): camera grid with a live annotated view, camera state, frame rate
  and drops, the rules' states, recent alerts with their snapshots and clips, and a zone/line editor
  that draws on a grabbed frame and prints the TOML to paste;
- ``/api/cameras``, ``/api/cameras/<name>/frame.jpg``, ``/api/events?camera=&rule=&since=&limit=``,
  ``/api/snapshots/<alert_id>.jpg``, ``/api/clips/<alert_id>.mp4`` (with HTTP range requests, so a
  browser can seek).

Every route answers HEAD as well as GET. With ``service.auth_token_env`` set, everything but the two
probes needs the token: ``Authorization: Bearer <token>``, or HTTP basic auth with the token as the
password (what a browser prompts for). The live view is drawn only while someone looks, at most twice
a second per camera however many look, from the latest frame the inference thread left — it never
waits for that thread, nor makes it wait.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
ALERT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
OPEN_PATHS = ("/livez", "/readyz")
FRAME_INTERVAL = 0.5
"""Seconds a camera's live JPEG is reused for every viewer."""

Check = Callable[[], tuple[bool, str]]


class SiteView(Protocol):
    """What the page reads from the running daemon (daemon/pipeline.py implements it)."""

    def camera_views(self) -> list[dict[str, Any]]: ...

    def live_jpeg(self, camera: str) -> bytes | None: ...

    def recent_events(
        self, *, camera: str | None, rule: str | None, since: str | None, limit: int
    ) -> list[dict[str, Any]]: ...


@dataclass
class WebConfig:
    live: Check
    ready: Check
    registry: CollectorRegistry
    site: SiteView
    snapshots: Path | None
    clips: Path | None
    token: str | None = None
    _frames: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    _frames_lock: threading.Lock = field(default_factory=threading.Lock)


def create_app(cfg: WebConfig) -> Starlette:
    def probe(check: Check) -> Callable[[Request], Any]:
        async def endpoint(_request: Request) -> Response:
            ok, why = check()
            return PlainTextResponse(why + "\n", status_code=200 if ok else 503)

        return endpoint

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(cfg.registry), media_type=CONTENT_TYPE_LATEST)

    async def index(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def cameras(_request: Request) -> Response:
        return JSONResponse(cfg.site.camera_views())

    async def frame(request: Request) -> Response:
        name = request.path_params["name"]
        now = time.monotonic()
        with cfg._frames_lock:
            cached = cfg._frames.get(name)
        if cached is None or now - cached[0] > FRAME_INTERVAL:
            data = cfg.site.live_jpeg(name)
            if data is None:
                return PlainTextResponse(f"no frame from camera {name} yet\n", status_code=404)
            cached = (now, data)
            with cfg._frames_lock:
                cfg._frames[name] = cached
        return Response(cached[1], media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        q = request.query_params
        try:
            limit = min(1000, max(1, int(q.get("limit", "100"))))
        except ValueError:
            return PlainTextResponse("limit must be a number\n", status_code=400)
        found = cfg.site.recent_events(
            camera=q.get("camera"), rule=q.get("rule"), since=q.get("since"), limit=limit
        )
        return JSONResponse(found)

    def media(directory: Path | None, suffix: str, kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            alert_id = request.path_params["alert_id"]
            if directory is None:
                return PlainTextResponse(f"{kind} are off\n", status_code=404)
            if not ALERT_ID.fullmatch(alert_id):
                return PlainTextResponse("not an alert id\n", status_code=404)
            for path in directory.glob(f"*/{alert_id}{suffix}"):
                return FileResponse(path, media_type="video/mp4" if suffix == ".mp4" else "image/jpeg")
            return PlainTextResponse(f"no {kind[:-1]} for alert {alert_id} (yet)\n", status_code=404)

        return endpoint

    async def not_found(_request: Request, _exc: Exception) -> Response:
        return PlainTextResponse(
            "not found: try /, /livez, /readyz, /metrics or /api/cameras\n", status_code=404
        )

    routes = [
        Route("/livez", probe(cfg.live)),
        Route("/readyz", probe(cfg.ready)),
        Route("/metrics", metrics),
        Route("/", index),
        Route("/api/cameras", cameras),
        Route("/api/cameras/{name}/frame.jpg", frame),
        Route("/api/events", events),
        Route("/api/snapshots/{alert_id}.jpg", media(cfg.snapshots, ".jpg", "snapshots")),
        Route("/api/clips/{alert_id}.mp4", media(cfg.clips, ".mp4", "clips")),
        Mount(
            "/static", StaticFiles(directory=STATIC, follow_symlink=True), name="static"
        ),  # editable installs link
    ]
    middleware = [Middleware(TokenAuth, token=cfg.token)] if cfg.token else []
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})


class TokenAuth:
    """Everything but the probes needs the token: as a bearer token, or as a basic-auth password."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse(
            "this page needs the token (service.auth_token_env)\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="sitewatch"'},
        )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        kind, _, value = header.partition(b" ")
        if kind.lower() == b"bearer":
            return hmac.compare_digest(value.strip(), self.token)
        if kind.lower() == b"basic":
            try:
                _user, _, password = base64.b64decode(value.strip(), validate=True).partition(b":")
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(password, self.token)
        return False
