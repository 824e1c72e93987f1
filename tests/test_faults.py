"""Fault injection: whatever breaks — the disk, the broker, the config, the network peers — the daemon
logs it once, retries, shows it in /readyz and the metrics, keeps processing frames and loses nothing.

Disk faults use a small tmpfs mounted by the test (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Site
from helpers import make_video, read_events, start_daemon, to_toml, wait_for_line, wait_until
from mosquitto import Broker, Subscriber, free_port
from test_mqtt import PERSON, alerting_site
from test_service import http_get, looping_camera, metric

from sitewatch.daemon.config import MqttSinkConfig
from sitewatch.daemon.recorder import read_records
from sitewatch.daemon.supervisor import WorkerState
from sitewatch.sinks.mqtt import MqttSink


class SmallDisk:
    """A 4 MiB tmpfs that a test can fill up, empty again, or remount read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as fh:
            for size in (1 << 16, 1 << 10, 64, 1):
                try:
                    while True:
                        fh.write(b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC

    def empty(self) -> None:
        self.filler.unlink(missing_ok=True)

    def read_only(self, on: bool) -> None:
        opts = "remount,ro" if on else "remount,rw"
        subprocess.run(["mount", "-o", opts, str(self.path)], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


def summary_counts(out: str) -> int:
    """Events the daemon says it produced (its exit summary)."""
    return sum(int(line.rsplit("=", 1)[1]) for line in out.splitlines() if "events: camera=" in line)


@pytest.mark.parametrize("fault", ["disk full", "read-only disk"])
def test_every_sink_recovers_from_a_disk_fault_and_loses_no_event(
    site: Site, small_disk: SmallDisk, broker: Broker, fault: str
) -> None:
    alerting_site(site, seconds=24)
    port = free_port()
    # SQLite holds its database open, and the kernel refuses to remount a file system read-only under
    # an open writer (EBUSY): under the read-only fault the outbox lives on the ordinary disk.
    outbox = small_disk.path / "outbox.sqlite" if fault == "disk full" else site.root / "outbox.sqlite"
    rule = {"name": "hardhat", "kind": "ppe", "min_duration": 0.3, "clear_after": 0.2, "cooldown": 0.0}
    camera = {"name": "gate", "url": str(site.video("gate", 20)), "realtime": True, "loop": True,
              "record_tracks": True}  # fmt: skip
    config = site.config(
        [{**camera, "rules": [rule]}],
        sinks={
            "jsonl": {"path": str(small_disk.path / "events.jsonl")},
            "snapshots": {"dir": str(small_disk.path / "snapshots")},
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port, "topic_prefix": "site1",
                     "outbox": {"path": str(outbox)}},
        },
        tracker={"lost_seconds": 0.3},
        service={"http_port": port},
        record_dir=str(small_disk.path / "tracks"),
    )  # fmt: skip
    sub = Subscriber(broker.port, "site1/+/events")
    proc = start_daemon(config)
    jsonl = small_disk.path / "events.jsonl"
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_line(jsonl, lambda e: e["type"] == "end", timeout=30), "no events before the fault"
        if fault == "disk full":
            small_disk.fill()
        else:
            small_disk.read_only(True)
        assert wait_until(lambda: "sink-jsonl degraded" in http_get(f"{base}/readyz")[1], timeout=15)
        assert wait_until(lambda: "recorder degraded" in http_get(f"{base}/readyz")[1], timeout=15)
        status, why = http_get(f"{base}/readyz")
        assert status == 503 and "sink-snapshots degraded" in why, why
        metrics = http_get(f"{base}/metrics")[1]
        assert metric(metrics, "sitewatch_worker_healthy", worker="sink-jsonl") == 0
        frames = metric(metrics, "sitewatch_frames_total", camera="gate")
        time.sleep(4)  # alerts go on while the disk is unusable
        assert metric(http_get(f"{base}/metrics")[1], "sitewatch_frames_total", camera="gate") > frames
        if fault == "disk full":
            small_disk.empty()
        else:
            small_disk.read_only(False)
        assert wait_until(lambda: http_get(f"{base}/readyz")[0] == 200, timeout=40)
        recovered_at = metric(http_get(f"{base}/metrics")[1], "sitewatch_frames_total", camera="gate")
        time.sleep(20)  # the clip's alerts stop at 24 s
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    events = read_events(jsonl)  # every line parses: no torn line survived the fault
    event_ids = [e["event_id"] for e in events]
    assert len(event_ids) == len(set(event_ids)) == summary_counts(out) >= 8, out  # each once, none lost
    print(f"{fault}: {len(event_ids)} events produced, {len(event_ids)} written once each, 0 lost")
    starts = [e for e in events if e["type"] == "start"]
    shots = sorted(p.name for p in (small_disk.path / "snapshots").rglob("*.jpg"))
    assert shots == sorted(f"{e['alert_id']}.jpg" for e in starts)
    assert not list(small_disk.path.rglob("*.tmp"))  # no half-written snapshot left behind
    records = [r.index for r in read_records(small_disk.path / "tracks/gate.jsonl")]  # all lines parse
    assert records == sorted(records) and records[-1] > recovered_at  # frames of the fault are left out
    assert sub.wait_for(lambda s: set(event_ids) <= {e["event_id"] for e in s.events()}, timeout=30)
    sub.close()
    for sink in ("jsonl", "snapshots"):  # one line when it starts (then a count a minute), not one per event
        failures = [line for line in out.splitlines() if f"sink {sink}: cannot write" in line]
        assert 1 <= len(failures) <= 3, failures
        assert f"sink {sink}: writing again" in out
    assert "Traceback" not in out


def test_a_ca_file_that_is_not_a_certificate_is_a_config_error(site: Site, capsys: Any) -> None:
    from sitewatch.daemon.cli import main

    bad_ca = site.root / "ca.crt"
    bad_ca.write_text("this is not a certificate\n")
    config = site.config(
        [looping_camera(site)],
        sinks={
            "mqtt": {"enabled": True, "port": free_port(), "tls": {"enabled": True, "ca_file": str(bad_ca)}}
        },
    )
    assert main(["check-config", str(config)]) == 2
    assert "sinks.mqtt.tls.ca_file: not a usable CA certificate file" in capsys.readouterr().err
    assert main(["run", "--config", str(config)]) == 2


def test_a_tls_setup_failure_at_run_time_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad_ca = tmp_path / "ca.crt"
    bad_ca.write_text("garbage")
    cfg = MqttSinkConfig.model_validate(
        {"enabled": True, "port": free_port(), "reconnect_max_s": 1,
         "tls": {"enabled": True, "ca_file": bad_ca}, "outbox": {"path": tmp_path / "o.sqlite"}}
    )  # fmt: skip
    sink = MqttSink(cfg)
    try:
        assert wait_until(lambda: sink.connect_failures >= 2, timeout=10)  # still trying, not dead
        assert sink._thread.is_alive() and sink._thread.worker_state is WorkerState.DEGRADED
    finally:
        sink.close()
    lines = [r.getMessage() for r in caplog.records if "cannot set up TLS" in r.getMessage()]
    assert len(lines) == 1, lines  # said once, not per attempt


def test_a_server_that_never_answers_connect_is_reported_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sitewatch.sinks.mqtt as mqtt_sink

    monkeypatch.setattr(mqtt_sink, "CONNACK_TIMEOUT", 0.5)
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])  # accept TCP, then say nothing
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    cfg = MqttSinkConfig.model_validate(
        {"enabled": True, "host": "127.0.0.1", "port": silent.getsockname()[1], "reconnect_max_s": 1,
         "outbox": {"path": tmp_path / "o.sqlite"}}
    )  # fmt: skip
    sink = MqttSink(cfg)
    try:
        assert wait_until(lambda: sink.connect_failures >= 2, timeout=15)
        assert sink._thread.worker_state is WorkerState.DEGRADED
        assert len(held) >= 2  # it connected again, each time on a fresh connection
    finally:
        sink.close()
        stop.set()
        acceptor.join(5)
        silent.close()
        for s in held:
            s.close()
    assert any("did not answer CONNECT within" in r.getMessage() for r in caplog.records)


def test_mqtt5_publishes_the_broker_refuses_are_logged_and_kept(tmp_path: Path, site: Site) -> None:
    acl = tmp_path / "acl"
    acl.write_text("pattern read #\ntopic write allowed/#\n")  # the daemon's 'denied/...' is refused
    b = Broker(tmp_path / "broker", acl_file=acl).start()
    try:
        rule = {"name": "hardhat", "kind": "ppe", "min_duration": 0.3, "clear_after": 0.2}
        for i in range(30):
            site.detect("gate", i, PERSON)
        config = site.config(
            [{"name": "gate", "url": str(site.video("gate", 30)), "realtime": True, "rules": [rule]}],
            sinks={"jsonl": {"path": "out/events.jsonl"},
                   "mqtt": {"enabled": True, "host": "127.0.0.1", "port": b.port, "protocol": "5",
                            "topic_prefix": "denied", "outbox": {"path": "out/outbox.sqlite"}}},
        )  # fmt: skip
        proc = start_daemon(config)
        out, _ = proc.communicate(timeout=60)
    finally:
        b.stop()
    assert proc.returncode == 0, out
    assert "the broker refused events; they stay in the outbox" in out and "Not authorized" in out
    assert "not yet delivered stay in the outbox" in out
    db = sqlite3.connect(site.root / "out/outbox.sqlite")
    kept = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    db.close()
    assert kept == len(read_events(site.root / "out/events.jsonl")) >= 2


UNBUILDABLE = {
    "usb:abc": lambda cfg: cfg.replace(
        "loop = true", 'loop = true\n\n[[cameras]]\nname = "cam2"\nurl = "usb:abc"'
    ),
    "usb:-1": lambda cfg: cfg.replace(
        "loop = true", 'loop = true\n\n[[cameras]]\nname = "cam2"\nurl = "usb:-1"'
    ),
    "rtsp://[::1/x": lambda cfg: cfg.replace(
        "loop = true", 'loop = true\n\n[[cameras]]\nname = "cam2"\nurl = "rtsp://[::1/x"'
    ),
    "deep TOML": lambda cfg: cfg + "\nx = " + "[" * 5000 + "]" * 5000 + "\n",
    "record_tracks into an unusable record_dir": lambda cfg: cfg.replace(
        "loop = true", "loop = true\nrecord_tracks = true"
    ),
}


def test_sighup_with_configs_that_cannot_be_built_keeps_the_daemon_running(site: Site) -> None:
    for i in range(3000):
        site.detect("gate", i, PERSON)
    rule = {"name": "hat", "kind": "ppe", "min_duration": 0.3, "clear_after": 0.2, "cooldown": 0.0}
    port = free_port()
    config = site.config(
        [looping_camera(site, rules=[rule])], service={"http_port": port}, record_dir="/dev/null/tracks"
    )
    good = config.read_text()
    proc = start_daemon(config)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: http_get(f"{base}/readyz")[0] == 200, timeout=30)
        for name, spoil in UNBUILDABLE.items():
            config.write_text(spoil(good))
            before = metric(http_get(f"{base}/metrics")[1], "sitewatch_frames_total", camera="gate")
            proc.send_signal(signal.SIGHUP)
            time.sleep(1.5)
            assert proc.poll() is None, f"{name}: the daemon died"
            after = metric(http_get(f"{base}/metrics")[1], "sitewatch_frames_total", camera="gate")
            assert after > before, f"{name}: frames stopped"
        config.write_text(good)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert out.count("reload rejected, the running configuration stays") == len(UNBUILDABLE), out
    assert "Traceback" not in out


def test_a_reload_whose_rules_fail_to_build_changes_nothing(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build boundary itself: whatever a builder raises, the reload is rejected whole."""
    from sitewatch.daemon import pipeline as pipeline_module
    from sitewatch.daemon.config import ConfigError, load_config
    from sitewatch.daemon.pipeline import Pipeline
    from sitewatch.daemon.preflight import checked_detector

    rule = {"name": "hat", "kind": "ppe", "min_duration": 0.3}
    config_path = site.config([looping_camera(site, rules=[rule])])
    config = load_config(config_path)
    pipeline = Pipeline(config, checked_detector(config))
    try:
        changed = config.cameras[0].model_copy(update={"rules": []})
        added = changed.model_copy(update={"name": "yard"})

        def broken(*_a: Any, **_k: Any) -> Any:
            raise KeyError("a bug in a rule")

        monkeypatch.setattr(pipeline_module, "build_engine", broken)
        with pytest.raises(ConfigError, match=r"cameras\[0\].rules: KeyError"):
            pipeline.reconfigure([changed, added])
        assert list(pipeline.cameras) == ["gate"] and pipeline.cameras["gate"].config == config.cameras[0]
    finally:
        pipeline.shutdown()


def test_idle_http_connections_are_timed_out_and_bounded(site: Site) -> None:
    port = free_port()
    for i in range(3000):
        site.detect("gate", i, PERSON)
    config = site.config(
        [looping_camera(site)], service={"http_port": port, "http_timeout": 1.0, "http_max_connections": 4}
    )
    proc = start_daemon(config)
    base = f"http://127.0.0.1:{port}"
    idle: list[socket.socket] = []
    try:
        assert wait_until(lambda: http_get(f"{base}/readyz")[0] == 200, timeout=30)
        frames = metric(http_get(f"{base}/metrics")[1], "sitewatch_frames_total", camera="gate")
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]  # say nothing
        time.sleep(0.3)
        assert http_get(f"{base}/readyz")[0] == 503  # all 4 slots held: refused at once, not queued
        for s in idle:  # the server closes every idle connection: refused at once (503), or timed out
            s.settimeout(5)
            received = b""
            while chunk := s.recv(1024):
                received += chunk
            assert received in (
                b"",
                b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
        time.sleep(1.5)
        status, body = http_get(f"{base}/metrics")
        assert status == 200 and metric(body, "sitewatch_frames_total", camera="gate") > frames
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        for s in idle:
            s.close()
        proc.kill()
    assert proc.returncode == 0, out


def test_a_pasted_password_with_url_delimiters_never_reaches_the_output(site: Site) -> None:
    secret = "pa#s?/w0rd"
    dead = f"rtsp://admin:{secret}@127.0.0.1:{free_port()}/stream"
    config = site.config([looping_camera(site), {"name": "door", "url": dead, "open_timeout": 1}])
    check = subprocess.run(
        [sys.executable, "-m", "sitewatch.daemon", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    assert "door: rtsp rtsp://admin:***@127.0.0.1:" in check.stdout
    proc = start_daemon(config, "--duration", "5")
    out, _ = proc.communicate(timeout=60)
    assert "camera door: reconnecting" in out and "rtsp://admin:***@127.0.0.1" in out
    for text in (check.stdout + check.stderr, out):
        for fragment in ("w0rd", "pa#s", "pa%23s", "s?/w"):
            assert fragment not in text


def test_check_config_says_which_user_cannot_write_an_output(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run check-config as an unprivileged user")
    shared = Path(tempfile.mkdtemp(prefix="sitewatch-user-"))
    try:
        shared.chmod(0o755)
        video = make_video(shared / "cam.mp4", 5)
        script = shared / "script.jsonl"
        script.write_text('{"labels": ["person"]}\n')
        config = shared / "config.toml"
        config.write_text(
            to_toml({"model": {"backend": "scripted", "path": str(script)},
                     "cameras": [{"name": "cam", "url": str(video)}]})
        )  # fmt: skip
        for f in (video, script, config):
            f.chmod(0o644)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        done = subprocess.run(
            [*as_nobody, sys.executable, "-m", "sitewatch.daemon", "check-config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
            env={**os.environ, "HOME": "/nonexistent", "YOLO_CONFIG_DIR": str(shared / "yolo")},
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"sinks.jsonl.path: cannot create {shared}/sitewatch-data/events.jsonl: cannot write to {shared}"
        in done.stderr
    )
    assert "as user nobody (uid 65534)" in done.stderr
    assert "sinks.snapshots.dir: cannot create" in done.stderr


def test_a_worker_that_cannot_recover_stops_the_watchdog_and_fails_liveness(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_service import NotifySocket

    from sitewatch.daemon.config import load_config
    from sitewatch.daemon.pipeline import Pipeline
    from sitewatch.daemon.preflight import checked_detector
    from sitewatch.daemon.service import Service
    from sitewatch.daemon.supervisor import SupervisedThread, supervisor

    for i in range(3000):
        site.detect("gate", i, PERSON)
    config = load_config(site.config([looping_camera(site)]))
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    pipeline = Pipeline(config, checked_detector(config))
    service = Service(pipeline, Path("unused.toml"))
    monkeypatch.setattr(supervisor, "give_up_after", 1.5)

    def always_crashes(_w: SupervisedThread) -> None:
        raise RuntimeError("a bug that every restart hits again")

    broken = SupervisedThread("broken", always_crashes)
    broken.backoff.start = broken.backoff._next = broken.backoff.maximum = 0.05
    liveness: list[tuple[bool, str]] = []
    runner = threading.Thread(target=lambda: service.run(duration=4.0))
    listener = threading.Thread(target=notify.drain, args=(4.5,))
    try:
        began = time.monotonic()
        listener.start()
        runner.start()
        broken.start()
        time.sleep(3.0)
        liveness.append(service.live())
        status = service.status_line(0.0)
        runner.join(10)
        listener.join(10)
        messages = notify.messages
    finally:
        broken.stop_event.set()
        broken.join(5)
        notify.close()
    pings = [t - began for t, m in messages if m == "WATCHDOG=1"]
    assert pings and pings[0] < 1.0  # pinging while the worker's failure was young...
    assert max(pings) < 2.5  # ...and no more once it had failed for longer than its bound
    assert liveness[0][0] is False and "broken has kept failing" in liveness[0][1]
    assert "1 failing: broken restarting for" in status  # what systemctl status shows
    assert supervisor.restart_counts()["broken"] >= 10
