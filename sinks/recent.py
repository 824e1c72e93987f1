"""The latest events in memory, for the web page's alert list and ``/api/events`` (the JSONL file and
MQTT are the record; this is a view of the last ``capacity`` events, lost at restart)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from sitewatch.daemon.events import EventMessage

from .base import Sink


class RecentEvents(Sink):
    name = "recent"

    def __init__(self, capacity: int = 1000) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def write(self, message: EventMessage) -> None:
        event = message.event.to_dict()
        with self._lock:
            self._events.append(event)

    def query(
        self,
        *,
        camera: str | None = None,
        rule: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Newest first; ``since``: an ISO time (events with a later ``frame_ts``)."""
        with self._lock:
            events = list(self._events)
        out = []
        for event in reversed(events):
            if (camera and event["camera"] != camera) or (rule and event["rule"]["name"] != rule):
                continue
            if since and event["frame_ts"] <= since:
                continue
            out.append(event)
            if len(out) >= limit:
                break
        return out
