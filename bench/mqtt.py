"""MQTT sink throughput and latency through the durable outbox, against a local Mosquitto.

    python bench/mqtt.py [--events 5000] [--qos 1]

Starts its own broker on a free port, writes events through ``MqttSink.write`` as fast as the sink
accepts them (each is committed to SQLite with fsync before it is published), and subscribes to them.
Prints the sustained rate (events delivered per second) and the publish latency from ``write`` to
arrival at the subscriber, p50 and p99.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sitewatch.daemon.config import MqttSinkConfig
from sitewatch.daemon.events import BBox, Event, EventMessage, RuleRef, new_id
from sitewatch.sinks.mqtt import MqttSink

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mosquitto import Broker, Subscriber  # the test helpers, shared with the tests


def event() -> EventMessage:
    now = time.time()
    ev = Event(new_id(), new_id(), "start", RuleRef("hardhat", "ppe"), "gate", 7, "person", 0.9,
               BBox.from_pixels((10, 20, 110, 220), (1920, 1080)), None, None, None, now - 2, None, now,
               "gate/x.jpg", None, "site.pt", "bench")  # fmt: skip
    return EventMessage(ev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--qos", type=int, default=1, choices=[0, 1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "broker").start()
        sub = Subscriber(broker.port, "bench/+/events", client_id="bench-subscriber")
        arrived: dict[str, float] = {}
        on_message = sub.client.on_message

        def record(client, userdata, msg):  # type: ignore[no-untyped-def]
            arrived.setdefault(json.loads(msg.payload)["event_id"], time.perf_counter())
            on_message(client, userdata, msg)

        sub.client.on_message = record
        cfg = MqttSinkConfig(
            enabled=True, host="127.0.0.1", port=broker.port, qos=args.qos, topic_prefix="bench",
            outbox={"path": Path(tmp) / "outbox.sqlite"},  # type: ignore[arg-type]
        )  # fmt: skip
        sink = MqttSink(cfg)
        while not sink.connected:
            time.sleep(0.01)
        written: dict[str, float] = {}
        start = time.perf_counter()
        for _ in range(args.events):
            msg = event()
            written[msg.event.event_id] = time.perf_counter()
            sink.write(msg)
        write_done = time.perf_counter()
        deadline = time.monotonic() + 120
        while len(arrived) < args.events and time.monotonic() < deadline:
            time.sleep(0.01)
        end = max(arrived.values())
        latency = np.array([arrived[k] - written[k] for k in written if k in arrived]) * 1e3
        print(f"events: {args.events}, QoS {args.qos}, delivered {len(arrived)}")
        print(f"write (commit to outbox): {args.events / (write_done - start):,.0f} events/s")
        print(f"end to end: {len(arrived) / (end - start):,.0f} events/s")
        print(
            f"latency write -> subscriber: p50 {np.percentile(latency, 50):.1f} ms, "
            f"p99 {np.percentile(latency, 99):.1f} ms"
        )
        sink.close()
        sub.close()
        broker.stop()


if __name__ == "__main__":
    main()
