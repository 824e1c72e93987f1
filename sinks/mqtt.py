"""MQTT delivery that loses nothing: every event goes through a durable outbox.

``write`` (on the sink's worker thread) only commits the event to the SQLite outbox. A publisher thread
owns the MQTT connection: it connects (with exponential backoff, one clear log line per distinct
failure), publishes the outbox in order, and deletes each message when the broker acknowledges it
(``on_publish`` for its ``mid``; paho's ``wait_for_publish`` cannot be used, it raises for messages
published while disconnected). A down broker only grows the outbox; a restart publishes what is left.
Delivery is at least once: after a reconnect the unacknowledged messages are sent again, so consumers
de-duplicate on ``event_id``.

Each connection uses a fresh paho client, so paho's in-memory queue never re-sends a message that the
outbox also re-sends. paho's callbacks only record what happened; the outbox is written by the
publisher loop, outside them, where a disk error is caught, logged (rate-limited), shown as degraded in
``/readyz`` and retried, instead of killing paho's loop. The publisher thread runs under the supervisor,
so even a bug restarts it rather than silencing MQTT for good. Every way a connection can fail is said
in one line and retried with the shared backoff: TCP or TLS errors, TLS files that do not load, a server
that accepts TCP but never answers CONNECT (``CONNACK_TIMEOUT``), a refused CONNECT, and (MQTT 5) a
publish the broker refuses, for example a topic its ACL denies — that message stays in the outbox.
Topics (see ``docs/mqtt.md``):

- ``<prefix>/<camera>/events``: every event, QoS as configured, not retained;
- ``<prefix>/availability``: ``online`` retained on connect, ``offline`` as Last Will and on clean exit
  (a sharded replica: ``<prefix>/replicas/<index>/availability``, its cameras' entities use it);
- ``<prefix>/<camera>/status``: the camera's state and frame rate, retained;
- ``<prefix>/<camera>/snapshot``: the latest alert's annotated JPEG, retained (optional);
- ``<prefix>/<camera>/rules/<rule>/state``: ``ON`` while any alert of the rule is active, else ``OFF``,
  with ``…/attributes`` (JSON: active count, alert ids, enabled, snoozed, acknowledged) and, for line
  rules, ``…/count`` (crossings per direction), all retained;
- ``<prefix>/<camera>/objects``: objects in view per label and per zone (JSON), retained.

With ``discovery`` on, Home Assistant discovery configs (sinks/homeassistant.py) are retained under
``<discovery_prefix>/<component>/<node_id>/...``; topics of cameras and rules that went away (now, or
while the daemon was down) are cleared. It also takes operator commands (daemon/commands.py:
``<camera>/set``, ``<camera>/rules/<rule>/set``, ``…/snooze/set``, ``…/acknowledge/set``); rejected
ones are answered on ``<prefix>/errors``.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sitewatch.daemon.backoff import Backoff
from sitewatch.daemon.commands import SUBSCRIPTIONS, Command, CommandError, CommandReply, parse
from sitewatch.daemon.config import Config, MqttSinkConfig, Replica, mqtt_password
from sitewatch.daemon.events import CameraStatus, EventMessage
from sitewatch.daemon.logs import Throttle
from sitewatch.daemon.redact import register_secret
from sitewatch.daemon.state import RuleState, StateMessage
from sitewatch.daemon.supervisor import SupervisedThread

from .annotate import encode_jpeg
from .base import Sink
from .homeassistant import entities, slug
from .outbox import Outbox

log = logging.getLogger(__name__)

INFLIGHT_WINDOW = 100
"""Most messages sent but not yet acknowledged."""
DRAIN_ON_CLOSE_S = 3.0
CLEANUP_WINDOW_S = 5.0
"""Seconds after connecting during which retained topics of ours are heard, to clear stale ones."""
CONNACK_TIMEOUT = 10.0
"""Seconds a server that accepted the TCP connection has to answer CONNECT."""


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
    if isinstance(exc, FileNotFoundError):
        return f"TLS file not found ({exc.filename})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


class MqttSink(Sink):
    name = "mqtt"

    def __init__(self, cfg: MqttSinkConfig, replica: Replica | None = None) -> None:
        self.cfg = cfg
        self.prefix = cfg.topic_prefix.rstrip("/")
        shard = replica.shard if replica is not None else None
        # Replicas share one config: each needs its own client id (a broker drops the older of two
        # sessions with the same id) and Last Will, but Home Assistant's node id is the fleet's, so a
        # camera's entities keep their ids whichever replica owns it.
        fleet_id = cfg.client_id or ("sitewatch" if shard else f"sitewatch-{socket.gethostname()}")
        self.client_id = f"{fleet_id}-{shard.index}" if shard else fleet_id
        self.availability = (
            f"{self.prefix}/replicas/{shard.index}/availability" if shard else f"{self.prefix}/availability"
        )
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
        self._answers: deque[tuple[str, bytes]] = deque(maxlen=100)
        self.node_id = slug(fleet_id)
        self._discovery_root = f"{cfg.discovery_prefix}/"
        self._discovery: set[str] = set()
        self._fleet_discovery: set[str] = set()
        """Discovery topics of every replica's cameras (all of them unsharded): never stale."""
        self._layout: tuple[set[str], set[tuple[str, str]]] | None = None
        self._on_command_parsed: Callable[[Command], None] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_error = ""
        self._throttle = Throttle(log)
        self._session = _Session()
        self._thread = SupervisedThread("mqtt", self._run, stop=self._stop)
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

    def write_state(self, state: StateMessage) -> None:
        """Rule states and object counts: retained, latest value only (a consumer that joins late, or
        Home Assistant after a restart, reads the current state at once)."""
        if isinstance(state, RuleState):
            base = f"{self.prefix}/{state.camera}/rules/{state.rule}"
            self._set_retained(f"{base}/attributes", _json(state.attributes()))
            if (counts := state.count_payload()) is not None:
                self._set_retained(f"{base}/count", _json(counts))
            self._set_retained(f"{base}/state", b"ON" if state.on else b"OFF")
        else:
            self._set_retained(f"{self.prefix}/{state.camera}/objects", state.to_json().encode())
        self._wake.set()

    def describe(self, config: Config) -> None:
        """The site's cameras and rules (at start and after every reload): publish Home Assistant
        discovery for them and clear — an empty retained message deletes it on the broker — every
        retained topic of a camera or rule that is gone, discovery included."""
        fleet = config.replica.fleet  # a sharded replica: the other replicas' cameras are not stale
        self._layout = (
            {c.name for c in fleet.cameras},
            {(c.name, r.name) for c in fleet.cameras for r in c.rules},
        )
        wanted: dict[str, bytes] = {}
        self._fleet_discovery = set()
        if self.cfg.discovery:
            for entity in entities(
                config,
                prefix=self.prefix,
                node_id=self.node_id,
                snapshots=self.cfg.snapshots,
                availability_topic=self.availability,
            ):
                wanted[entity.topic(self.cfg.discovery_prefix, self.node_id)] = _json(entity.config)
            self._fleet_discovery = {
                e.topic(self.cfg.discovery_prefix, self.node_id)
                for e in entities(
                    fleet, prefix=self.prefix, node_id=self.node_id, snapshots=self.cfg.snapshots
                )
            }
        with self._lock:
            gone = [
                t for t in self._retained if self._retained[t] and (t in self._discovery or self._stale(t))
            ]
            for topic in gone:
                if topic not in wanted and topic not in self._fleet_discovery:
                    self._retained[topic] = b""
                    self._retained_dirty.add(topic)
            for topic, payload in wanted.items():
                if self._retained.get(topic) != payload:
                    self._retained[topic] = payload
                    self._retained_dirty.add(topic)
            self._discovery = set(wanted)
        self._wake.set()

    def _stale(self, topic: str) -> bool:
        """A state or discovery topic of ours for a camera or rule the config no longer has."""
        if self._layout is None:
            return False
        cameras, rules = self._layout
        if topic.startswith(self._discovery_root):
            return topic not in self._discovery and topic not in self._fleet_discovery
        levels = topic[len(self.prefix) + 1 :].split("/") if topic.startswith(self.prefix + "/") else []
        if len(levels) == 2 and levels[1] in ("status", "objects", "snapshot"):
            return levels[0] not in cameras
        if len(levels) == 4 and levels[1] == "rules" and levels[3] in ("state", "attributes", "count"):
            return (levels[0], levels[2]) not in rules
        return False

    def _cleanup_filters(self) -> list[str]:
        p = self.prefix
        return [
            f"{p}/+/status", f"{p}/+/objects", f"{p}/+/snapshot",
            f"{p}/+/rules/+/state", f"{p}/+/rules/+/attributes", f"{p}/+/rules/+/count",
            f"{self.cfg.discovery_prefix}/+/{self.node_id}/+/config",
        ]  # fmt: skip

    def listen(self, handler: Callable[[Command], None]) -> None:
        self._on_command_parsed = handler

    def write_reply(self, reply: CommandReply) -> None:
        self._say(f"{self.prefix}/errors", reply.to_json().encode())

    def _say(self, topic: str, payload: bytes) -> None:
        """Non-retained, QoS 1, not kept in the outbox: answers to commands matter only now."""
        with self._lock:
            self._answers.append((topic, payload))
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
        if payload and self._stale(topic):
            return  # queued before its camera or rule was removed: describe() has cleared it
        with self._lock:
            self._retained[topic] = payload
            self._retained_dirty.add(topic)

    # --- the publisher thread ----------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        """A fresh client for one connection; raises (ssl.SSLError, OSError) when TLS files do not load."""
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
        client.will_set(self.availability, "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _run(self, worker: SupervisedThread) -> None:
        backoff = Backoff(start=1.0, maximum=self.cfg.reconnect_max_s)
        while not self._stop.is_set():
            self._session = _Session()
            where = f"{self.cfg.host}:{self.cfg.port}"
            try:
                client = self._new_client()
            except Exception as exc:
                self._failed(worker, f"cannot set up TLS for {where}: {describe_connect_error(exc)}")
            else:
                try:
                    client.connect(self.cfg.host, self.cfg.port, self.cfg.keepalive)
                except Exception as exc:
                    self._failed(worker, f"cannot connect to {where}: {describe_connect_error(exc)}")
                else:
                    self._serve(client, worker)
                    s = self._session
                    if s.refused:
                        self._failed(worker, f"broker {where} refused the connection: {s.refused}")
                    elif s.connack_timeout:
                        self._failed(
                            worker,
                            f"{where} accepted the TCP connection but did not answer CONNECT within "
                            f"{CONNACK_TIMEOUT:.0f} s (not an MQTT broker, or one that expects TLS?)",
                        )
                    elif s.acked:
                        backoff.reset()  # it worked for a while: start the backoff again
            if self._stop.is_set():
                break
            self._stop.wait(backoff.next())

    def _failed(self, worker: SupervisedThread, message: str) -> None:
        """One line per distinct failure (then a count a minute while it repeats), never per attempt."""
        self.connect_failures += 1
        pending = len(self.outbox)
        worker.degraded(f"{message}; {pending} event(s) wait in the outbox")
        key = f"MQTT: {message}; retrying with backoff, events wait in the outbox"
        if self._last_error and self._last_error != key:
            self._throttle.clear(self._last_error)
        self._last_error = key
        self._throttle.log(logging.ERROR, key, f"{pending} pending")

    def _serve(self, client: mqtt.Client, worker: SupervisedThread) -> None:
        """Run one connection until it drops or the sink stops."""
        s = self._session
        stop_deadline: float | None = None
        connack_deadline = time.monotonic() + CONNACK_TIMEOUT
        while True:
            if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS or s.refused or s.closed:
                break
            self._settle(worker)
            if not s.acked and time.monotonic() > connack_deadline:
                s.connack_timeout = True
                break
            if s.acked:
                if s.just_connected:
                    s.just_connected = False
                    if self._last_error:
                        self._throttle.clear(self._last_error)
                        self._last_error = ""
                    worker.recovered()
                self._pump(client)
            if self._stop.is_set():
                stop_deadline = stop_deadline or time.monotonic() + DRAIN_ON_CLOSE_S
                drained = not s.inflight and not self.outbox.pending(after=s.last_sent, limit=1)
                if not s.acked or drained or time.monotonic() > stop_deadline:
                    break
            elif s.acked and not s.inflight:
                self._wake.wait(0.05)
                self._wake.clear()
        self._settle(worker)
        if s.acked and not s.closed:
            info = self._publish_retained(client, self.availability, b"offline")
            deadline = time.monotonic() + 1.0
            while not info.is_published() and time.monotonic() < deadline:
                if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
        if not s.closed:
            client.disconnect()
            client.loop(timeout=0.05)
        self.connected = False

    def _settle(self, worker: SupervisedThread) -> None:
        """Act on what paho's callbacks recorded: delete delivered messages from the outbox (a disk
        error keeps them for the next turn: they are not re-sent on this connection), and say which
        publishes the broker refused."""
        s = self._session
        if s.refused_publishes:
            topic, reason = s.refused_publishes[-1]
            n = len(s.refused_publishes)
            s.refused_publishes.clear()
            self._throttle.log(
                logging.ERROR,
                "MQTT: the broker refused events; they stay in the outbox and are sent again on reconnect",
                f"{n} refused, last on {topic}: {reason} (check the broker's ACL for topic_prefix)",
            )
            worker.degraded(f"the broker refused publishing to {topic}: {reason}")
        if not s.delivered:
            return
        try:
            self.outbox.delete_many(s.delivered)  # empties the list as it goes
        except sqlite3.Error as exc:
            self._throttle.log(
                logging.ERROR,
                "MQTT: cannot delete delivered events from the outbox; retrying",
                f"{exc} ({len(s.delivered)} waiting)",
            )
            worker.degraded(f"outbox: cannot delete delivered events: {exc}")
            return
        if self._throttle.active("MQTT: cannot delete delivered events from the outbox; retrying"):
            self._throttle.clear(
                "MQTT: cannot delete delivered events from the outbox; retrying",
                recovered="MQTT: outbox writable again",
            )
            worker.recovered()

    def _publish_retained(self, client: mqtt.Client, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        """Availability, statuses, snapshots: latest value only, not kept in the outbox."""
        info = client.publish(topic, payload, qos=1, retain=True)
        self._session.untracked.add(info.mid)
        return info

    def _pump(self, client: mqtt.Client) -> None:
        s = self._session
        if not s.listening and self._on_command_parsed is not None:  # (the handler may come later)
            s.listening = True
            client.subscribe([(f"{self.prefix}/{f}", 1) for f in SUBSCRIPTIONS])
        if not s.subscribed:
            s.subscribed, s.connected_at = True, time.monotonic()
            client.subscribe([(f, 1) for f in self._cleanup_filters()])
        elif s.connected_at and time.monotonic() - s.connected_at > CLEANUP_WINDOW_S:
            s.connected_at = 0.0  # the retained messages have come: stop hearing our own publishes
            client.unsubscribe(self._cleanup_filters())
        with self._lock:
            dirty = [(t, self._retained[t]) for t in sorted(self._retained_dirty)]
            self._retained_dirty.clear()
        for topic, payload in dirty:
            self._publish_retained(client, topic, payload)
        while True:
            with self._lock:
                if not self._answers:
                    break
                topic, payload = self._answers.popleft()
            self._session.untracked.add(client.publish(topic, payload, qos=1).mid)
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
                s.delivered.append(msg.id)
            else:
                s.inflight[info.mid] = (msg.id, msg.topic)

    # --- paho callbacks (on the publisher thread, inside client.loop): record only, never raise ----

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._session.refused = str(reason)
            return
        self._session.acked = self._session.just_connected = True
        self.connected = True
        log.info("MQTT: connected to %s:%s as %s", self.cfg.host, self.cfg.port, self.client_id)
        self._publish_retained(client, self.availability, b"online")
        with self._lock:
            self._retained_dirty = set(self._retained)  # the broker may have restarted without them

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        """A command: parse it here (cheap), apply it on the inference thread; or, just after connecting,
        a retained topic of ours from an earlier run: clear it if its camera or rule is gone. Never
        raises into paho."""
        if not msg.topic.endswith("/set"):
            if msg.retain and msg.payload and self._stale(msg.topic):
                log.info("MQTT: clearing %s (its camera or rule is no longer configured)", msg.topic)
                with self._lock:
                    self._retained[msg.topic] = b""
                    self._retained_dirty.add(msg.topic)
            return
        handler = self._on_command_parsed
        if handler is None or msg.retain:
            return  # a retained command is someone's stale mistake: commands are for now
        try:
            handler(parse(self.prefix, msg.topic, bytes(msg.payload)))
        except CommandError as exc:
            log.warning("MQTT: command on %s rejected: %s", msg.topic, exc)
            text = msg.payload[:200].decode("utf-8", "replace")
            self._say(
                f"{self.prefix}/errors",
                CommandReply(msg.topic, text, str(exc), time.time()).to_json().encode(),
            )
        except Exception:
            log.exception("MQTT: command on %s could not be handled", msg.topic)

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

    def _on_publish(self, _c: mqtt.Client, _ud: Any, mid: int, reason: Any, _props: Any) -> None:
        s = self._session
        sent = s.inflight.pop(mid, None)
        if sent is not None:
            if getattr(reason, "is_failure", False):  # MQTT 5: the broker said no (e.g. its ACL)
                s.refused_publishes.append((sent[1], str(reason)))
            else:
                s.delivered.append(sent[0])
        elif mid in s.untracked:
            s.untracked.discard(mid)
        else:
            s.early_acks.add(mid)


def _json(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class _Session:
    """State of one connection."""

    def __init__(self) -> None:
        self.acked = False
        self.refused = ""
        self.closed = False
        self.just_connected = False
        self.connack_timeout = False
        self.last_sent = 0  # highest outbox id sent on this connection
        self.inflight: dict[int, tuple[int, str]] = {}  # mid -> (outbox id, topic)
        self.delivered: list[int] = []  # acknowledged outbox ids, deleted by the publisher loop
        self.refused_publishes: list[tuple[str, str]] = []  # (topic, reason) the broker refused
        self.early_acks: set[int] = set()  # outbox publishes acknowledged inside publish() (QoS 0)
        self.untracked: set[int] = set()  # retained publishes awaiting their acknowledgement
        self.listening = False  # subscribed to the command topics
        self.subscribed = False  # to our own retained topics, for a while, to clear stale ones
        self.connected_at = 0.0  # while non-zero, subscribed to our retained topics to find stale ones
