"""MQTT delivery that loses nothing: every event goes through a durable outbox.

``write`` (on the sink's worker thread) only commits the event to the SQLite outbox. A publisher thread
owns the MQTT connection: it connects (with exponential backoff, one clear log line per distinct
failure), publishes the outbox in order, and deletes each message when the broker acknowledges it
(``on_publish`` for its ``mid``; paho's ``wait_for_publish`` cannot be used, it raises for messages
published while disconnected). A down broker only grows the outbox; a restart publishes what is left.
Delivery is at least once: after a reconnect the unacknowledged messages are sent again, so consumers
de-duplicate on ``event_id``.

Each connection uses a fresh paho client, so paho's in-memory queue never re-sends a message that the
outbox also re-sends. Topics (see ``docs/mqtt.md``):

- ``<prefix>/<camera>/events``: every event, QoS as configured, not retained;
- ``<prefix>/availability``: ``online`` retained on connect, ``offline`` as Last Will and on clean exit;
- ``<prefix>/<camera>/status``: the camera's state and frame rate, retained;
- ``<prefix>/<camera>/snapshot``: the latest alert's annotated JPEG, retained (optional).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from daemon.config import MqttSinkConfig, mqtt_password
from daemon.events import CameraStatus, EventMessage
from daemon.redact import register_secret

from .annotate import encode_jpeg
from .base import Sink
from .outbox import Outbox

log = logging.getLogger(__name__)

INFLIGHT_WINDOW = 100
"""Most messages sent but not yet acknowledged."""
DRAIN_ON_CLOSE_S = 3.0


def describe_connect_error(exc: BaseException) -> str:
    """One line a person can act on; never includes credentials."""
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running, on this port?)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


class MqttSink(Sink):
    name = "mqtt"

    def __init__(self, cfg: MqttSinkConfig) -> None:
        self.cfg = cfg
        self.prefix = cfg.topic_prefix.rstrip("/")
        self.client_id = cfg.client_id or f"sitewatch-{socket.gethostname()}"
        self.password = mqtt_password(cfg)
        register_secret(self.password)
        self.outbox = Outbox(
            cfg.outbox.path,
            max_age_s=cfg.outbox.max_age_days * 86400,
            max_bytes=int(cfg.outbox.max_mb * 2**20),
        )
        if cfg.tls.enabled and cfg.tls.insecure:
            log.warning(
                "MQTT TLS host name verification is OFF (sinks.mqtt.tls.insecure = true): anyone on the "
                "network path can impersonate the broker. Use only for testing."
            )
        self.connected = False
        self.connect_failures = 0
        self._retained: dict[str, bytes] = {}  # statuses and snapshots: latest per topic, re-sent on connect
        self._retained_dirty: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    # --- called on the sink worker thread ----------------------------------------------------------

    def write(self, message: EventMessage) -> None:
        ev = message.event
        self.outbox.add(f"{self.prefix}/{ev.camera}/events", ev.to_json().encode(), self.cfg.qos)
        if self.cfg.snapshots and message.snapshot is not None:
            self._set_retained(f"{self.prefix}/{ev.camera}/snapshot", encode_jpeg(message.snapshot))
        self._wake.set()

    def write_status(self, status: CameraStatus) -> None:
        self._set_retained(f"{self.prefix}/{status.camera}/status", status.to_json().encode())
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(DRAIN_ON_CLOSE_S + 5)
        pending = len(self.outbox)
        if pending:
            log.warning("MQTT: %d event(s) not yet delivered stay in the outbox for the next start", pending)
        self.outbox.close()

    def _set_retained(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self._retained[topic] = payload
            self._retained_dirty.add(topic)

    # --- the publisher thread ----------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        v5 = self.cfg.protocol == "5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else True,
        )
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, self.password)
        if self.cfg.tls.enabled:
            t = self.cfg.tls
            client.tls_set(
                ca_certs=str(t.ca_file) if t.ca_file else None,
                certfile=str(t.cert_file) if t.cert_file else None,
                keyfile=str(t.key_file) if t.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.tls_insecure_set(t.insecure)
        client.will_set(f"{self.prefix}/availability", "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            self._session = _Session()
            client = self._new_client()
            try:
                client.connect(self.cfg.host, self.cfg.port, self.cfg.keepalive)
            except Exception as exc:
                self._failed(
                    f"cannot connect to {self.cfg.host}:{self.cfg.port}: {describe_connect_error(exc)}"
                )
            else:
                self._serve(client)
                if self._session.refused:
                    self._failed(
                        f"broker {self.cfg.host}:{self.cfg.port} refused the connection: "
                        f"{self._session.refused}"
                    )
                elif self._session.acked:
                    backoff = 1.0  # it worked for a while: start the backoff again
            if self._stop.is_set():
                break
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.cfg.reconnect_max_s)

    def _failed(self, message: str) -> None:
        self.connect_failures += 1
        if message != self._last_error:
            log.error(
                "MQTT: %s; retrying with backoff, events wait in the outbox (%d pending)",
                message,
                len(self.outbox),
            )
            self._last_error = message
        else:
            log.debug("MQTT: %s (attempt %d)", message, self.connect_failures)

    def _serve(self, client: mqtt.Client) -> None:
        """Run one connection until it drops or the sink stops."""
        s = self._session
        stop_deadline: float | None = None
        while True:
            if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS or s.refused or s.closed:
                break
            if s.acked:
                self._pump(client)
            if self._stop.is_set():
                stop_deadline = stop_deadline or time.monotonic() + DRAIN_ON_CLOSE_S
                drained = not s.inflight and not self.outbox.pending(after=s.last_sent, limit=1)
                if not s.acked or drained or time.monotonic() > stop_deadline:
                    break
            elif s.acked and not s.inflight:
                self._wake.wait(0.05)
                self._wake.clear()
        if s.acked and not s.closed:
            info = self._publish_retained(client, f"{self.prefix}/availability", b"offline")
            deadline = time.monotonic() + 1.0
            while not info.is_published() and time.monotonic() < deadline:
                if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
        if not s.closed:
            client.disconnect()
            client.loop(timeout=0.05)
        self.connected = False

    def _publish_retained(self, client: mqtt.Client, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        """Availability, statuses, snapshots: latest value only, not kept in the outbox."""
        info = client.publish(topic, payload, qos=1, retain=True)
        self._session.untracked.add(info.mid)
        return info

    def _pump(self, client: mqtt.Client) -> None:
        s = self._session
        with self._lock:
            dirty = [(t, self._retained[t]) for t in sorted(self._retained_dirty)]
            self._retained_dirty.clear()
        for topic, payload in dirty:
            self._publish_retained(client, topic, payload)
        room = INFLIGHT_WINDOW - len(s.inflight)
        if room <= 0:
            return
        for msg in self.outbox.pending(after=s.last_sent, limit=room):
            info = client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # the connection is going; the outbox keeps the message
            s.last_sent = msg.id
            if info.mid in s.early_acks:  # acknowledged (QoS 0: written) before publish() returned
                s.early_acks.discard(info.mid)
                self._delivered(msg.id)
            else:
                s.inflight[info.mid] = msg.id

    def _delivered(self, message_id: int) -> None:
        self.outbox.delete(message_id)

    # --- paho callbacks (on the publisher thread, inside client.loop) -----------------------------

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._session.refused = str(reason)
            return
        self._session.acked = True
        self.connected = True
        pending = len(self.outbox)
        log.info(
            "MQTT: connected to %s:%s as %s%s",
            self.cfg.host,
            self.cfg.port,
            self.client_id,
            f"; delivering {pending} pending event(s)" if pending else "",
        )
        self._last_error = ""
        self._publish_retained(client, f"{self.prefix}/availability", b"online")
        with self._lock:
            self._retained_dirty = set(self._retained)  # the broker may have restarted without them

    def _on_disconnect(self, _c: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._session.acked and not self._stop.is_set():
            log.warning(
                "MQTT: disconnected from %s:%s (%s); reconnecting, events wait in the outbox",
                self.cfg.host,
                self.cfg.port,
                reason,
            )
        self._session.closed = True
        self.connected = False

    def _on_publish(self, _c: mqtt.Client, _ud: Any, mid: int, _reason: Any, _props: Any) -> None:
        s = self._session
        message_id = s.inflight.pop(mid, None)
        if message_id is not None:
            self._delivered(message_id)
        elif mid in s.untracked:
            s.untracked.discard(mid)
        else:
            s.early_acks.add(mid)


class _Session:
    """State of one connection."""

    def __init__(self) -> None:
        self.acked = False
        self.refused = ""
        self.closed = False
        self.last_sent = 0  # highest outbox id sent on this connection
        self.inflight: dict[int, int] = {}  # mid -> outbox id
        self.early_acks: set[int] = set()  # outbox publishes acknowledged inside publish() (QoS 0)
        self.untracked: set[int] = set()  # retained publishes awaiting their acknowledgement
