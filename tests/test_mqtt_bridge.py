"""The shipped Mosquitto bridge (deploy/mqtt/bridge.conf) between two real Mosquitto instances: a site
broker and a central one, with the link between them through a TCP relay the test can cut. Events
published at the site arrive centrally under sites/<site>/, in order, after the link is cut and
restored — nothing published meanwhile is lost."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from helpers import wait_until
from mosquitto import Broker, Subscriber, free_port
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
SITE = "north-yard"


class Link:
    """A TCP relay standing for the WAN link from the site to the centre: ``cut`` drops every
    connection and refuses new ones; ``restore`` accepts again."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target = target_port
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None

    def restore(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):  # wakes the accept() blocked in the relay's thread
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def bridge_lines(address: str) -> list[str]:
    """The shipped bridge config for this test: the central address and site name filled in, plain TCP
    (the TLS files are the site's own)."""
    out = []
    for line in (ROOT / "deploy" / "mqtt" / "bridge.conf").read_text().splitlines():
        if line.startswith("bridge_") and line.split()[0] in (
            "bridge_cafile",
            "bridge_certfile",
            "bridge_keyfile",
        ):
            continue
        if line.startswith("address "):
            line = f"address {address}"
        out.append(line.replace("SITE", SITE))
    return out


def test_site_events_reach_the_centre_in_order_across_a_cut_link(tmp_path: Path) -> None:
    central = Broker(tmp_path / "central").start()
    link = Link(central.port)
    link.restore()
    site = Broker(tmp_path / "site", extra=bridge_lines(f"127.0.0.1:{link.port}")).start()
    sub = Subscriber(central.port, f"sites/{SITE}/sitewatch/#", client_id="central-consumer")
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="site-daemon")
    publisher.connect("127.0.0.1", site.port)
    publisher.loop_start()
    topic = "sitewatch/gate/events"
    central_topic = f"sites/{SITE}/{topic}"

    def publish(seq: range) -> None:
        for i in seq:
            event = {"event_id": f"e{i:03d}", "camera": "gate", "seq": i}
            publisher.publish(topic, json.dumps(event), qos=1).wait_for_publish(5)

    def arrived() -> list[int]:
        return [json.loads(p)["seq"] for p in sub.payloads(central_topic)]

    try:
        state = f"sites/{SITE}/sitewatch/bridge/central/state"  # the bridge's own notification
        assert wait_until(lambda: b"1" in sub.payloads(state), 20), sub.payloads(state)
        publish(range(0, 10))
        assert wait_until(lambda: len(arrived()) >= 10, 20), arrived()

        link.cut()  # the WAN goes down; the site keeps publishing
        time.sleep(1.0)
        publish(range(10, 40))
        time.sleep(2.0)
        assert max(arrived()) < 10, "events crossed a cut link"

        link.restore()
        assert wait_until(lambda: len(set(arrived())) >= 40, 60), arrived()
        got = arrived()
        first = sorted(set(got), key=got.index)  # at-least-once: a redelivery may repeat one
        assert first == list(range(40)), got  # all of them, in the order published
        log = (tmp_path / "site" / "mosquitto.log").read_text()
        reconnects = re.findall(r"Connecting bridge \(step 1\) central", log)
        assert len(reconnects) >= 2, log  # it connected again by itself after the cut
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        sub.close()
        link.cut()
        site.stop()
        central.stop()
