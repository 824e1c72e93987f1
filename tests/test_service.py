"""The daemon as a systemd service: sd_notify with a watchdog that proves progress, HTTP health and
Prometheus metrics, SIGHUP reloads, journald-friendly logs, and a unit file systemd accepts."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import Site
from helpers import read_events, start_daemon, wait_for_line
from mosquitto import free_port

from sitewatch.daemon import __version__
from sitewatch.daemon.logs import JournalFormatter, JsonFormatter

PERSON = (40.0, 20.0, 80.0, 110.0, 0.9, "person")


class NotifySocket:
    """A real AF_UNIX datagram socket standing in for systemd's notification socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []

    def drain(self, seconds: float) -> list[tuple[float, str]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            now = time.monotonic()
            self.messages += [(now, line) for line in data.splitlines()]
        return self.messages

    def close(self) -> None:
        self.sock.close()


def looping_camera(site: Site, name: str = "gate", frames: int = 20, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": str(site.video(name, frames)), "realtime": True, "loop": True, **extra}


def test_ready_then_watchdog_pings_then_stopping(site: Site, tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    config = site.config([looping_camera(site)])
    proc = start_daemon(config, env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    try:
        notify.drain(4.0)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        lines = [m for _, m in notify.drain(0.5)]
    finally:
        proc.kill()
        notify.close()
    assert proc.returncode == 0, out
    assert lines[0] == "READY=1"
    pings = [i for i, m in enumerate(lines) if m == "WATCHDOG=1"]
    assert len(pings) >= 4  # every half watchdog interval (0.5 s) while frames flow
    assert lines.index("STOPPING=1") > pings[-1]
    statuses = [m for m in lines if m.startswith("STATUS=")]
    assert any(re.fullmatch(r"STATUS=1/1 cameras online, \d+\.\d fps, outbox 0", s) for s in statuses), (
        statuses
    )


def test_a_wedged_detector_stops_the_watchdog_pings(site: Site, tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    config = site.config([looping_camera(site)])
    script = site.root / "script.jsonl"
    script.write_text(
        script.read_text() + json.dumps({"stall": {"camera": "gate", "frame": 20, "seconds": 60}}) + "\n"
    )
    proc = start_daemon(config, env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    try:
        messages = notify.drain(10.0)  # start-up (seconds on a slow machine), then frame 20 after 2 s
        ended = time.monotonic()
    finally:
        proc.kill()
        proc.communicate(timeout=10)
        notify.close()
    # timed from READY=1 (the cameras start then), not from the spawn: start-up time is the machine's
    ready = next(t for t, m in messages if m == "READY=1")
    pings = [t for t, m in messages if m == "WATCHDOG=1"]
    assert len(pings) >= 2, "no pings before the stall"
    assert pings[-1] - ready < 4.0  # they stop soon after the stall begins...
    assert ended - pings[-1] > 3.0  # ...and stay stopped: systemd would restart the daemon


def http_get(url: str) -> tuple[int, str]:
    """(status, body); (0, why) while nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError as e:
        return 0, str(e.reason)


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}}" if labels else f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{want}}} not in metrics")


def test_metrics_and_readiness_over_http(site: Site) -> None:
    port = free_port()
    for i in range(200):
        site.detect("gate", i, PERSON)
    rule = {"name": "hat", "kind": "ppe", "min_duration": 0.3, "clear_after": 0.2}
    dead = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/s"
    prefix = f"sw-{uuid.uuid4().hex[:10]}"
    mqtt = {
        "enabled": True,
        "host": "127.0.0.1",
        "topic_prefix": prefix,
        "client_id": prefix,
        "discovery": False,
    }
    config = site.config(
        [looping_camera(site, rules=[rule], fps=5), {"name": "door", "url": dead, "open_timeout": 1}],
        service={"http_port": port},
        sinks={"jsonl": {"path": "out/events.jsonl", "fsync": False}, "mqtt": mqtt},
    )
    proc = start_daemon(config)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while http_get(f"{base}/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert http_get(f"{base}/readyz") == (200, "1/2 cameras online\n")
        assert http_get(f"{base}/livez") == (200, "ok\n")
        assert wait_for_line(site.root / "out/events.jsonl", lambda e: e["type"] == "start", timeout=20)
        first = http_get(f"{base}/metrics")[1]
        time.sleep(1.5)
        status, second = http_get(f"{base}/metrics")
        assert status == 200
        assert metric(second, "sitewatch_frames_total", camera="gate") > metric(
            first, "sitewatch_frames_total", camera="gate"
        )
        assert metric(second, "sitewatch_camera_up", camera="gate") == 1
        assert metric(second, "sitewatch_camera_up", camera="door") == 0
        assert metric(second, "sitewatch_reconnects_total", camera="door") >= 1
        assert metric(second, "sitewatch_events_total", camera="gate", rule="hat", type="start") >= 1
        assert metric(second, "sitewatch_inference_seconds_count") > 0
        assert metric(second, "sitewatch_batch_size_count") > 0
        assert metric(second, "sitewatch_outbox_pending") == 0
        for name in ("sitewatch_frames_dropped_total", "sitewatch_sink_errors_total"):
            assert name in second
        # the 10 fps clip capped at 5 fps: half the decoded frames are skipped, the rest judged or queued
        decoded = metric(second, "sitewatch_frames_decoded_total", camera="gate")
        skipped = metric(second, "sitewatch_frames_skipped_total", camera="gate")
        judged = metric(second, "sitewatch_frames_total", camera="gate")
        queued = metric(second, "sitewatch_queue_depth", camera="gate")
        assert 0.3 < skipped / decoded < 0.7
        assert decoded - skipped - judged - queued in (0, 1)  # one frame may be between the two
        starts = metric(second, "sitewatch_events_total", camera="gate", rule="hat", type="start")
        assert metric(second, "sitewatch_event_latency_seconds_count") == starts
        assert metric(second, "sitewatch_mqtt_connected") == 1
        assert (
            f'sitewatch_build_info{{python="{platform.python_version()}",version="{__version__}"}} 1.0'
            in second
        )
        assert metric(second, "process_resident_memory_bytes") > 10e6
        assert "rtsp://" not in second and "hunter2" not in second  # names only, never URLs
        assert http_get(f"{base}/nope")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_not_ready_while_no_camera_is_online(site: Site) -> None:
    port = free_port()
    dead = f"rtsp://127.0.0.1:{free_port()}/s"
    config = site.config([{"name": "door", "url": dead, "open_timeout": 1}], service={"http_port": port})
    proc = start_daemon(config)
    try:
        deadline = time.monotonic() + 30
        while (code_body := http_get(f"http://127.0.0.1:{port}/readyz"))[
            0
        ] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert code_body == (503, "no camera online (0/1)\n")
        assert http_get(f"http://127.0.0.1:{port}/livez")[0] == 200  # alive, just nothing to watch
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_sighup_adds_a_camera_and_changes_a_rule_and_survives_a_broken_config(site: Site) -> None:
    for cam in ("gate", "yard"):
        for i in range(2000):
            site.detect(cam, i, PERSON)
    slow = {"name": "hat", "kind": "ppe", "min_duration": 3600, "clear_after": 0.2}
    config = site.config([looping_camera(site, rules=[slow])])
    proc = start_daemon(config)
    events = site.root / "out/events.jsonl"
    try:
        time.sleep(3)
        assert read_events(events) == []  # nobody waits an hour
        fast = {**slow, "min_duration": 0.3}
        site.config([looping_camera(site, rules=[fast]), looping_camera(site, "yard", rules=[fast])])
        proc.send_signal(signal.SIGHUP)
        assert wait_for_line(events, lambda e: e["camera"] == "yard" and e["type"] == "start", timeout=20)
        assert wait_for_line(events, lambda e: e["camera"] == "gate" and e["type"] == "start", timeout=20)
        config.write_text(config.read_text().replace("min_duration = 0.3", 'min_duration = "soon"'))
        proc.send_signal(signal.SIGHUP)
        time.sleep(2)
        assert proc.poll() is None  # still running, on the old config
        out = stop(proc)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "reload applied: camera gate: zones, lines or rules updated; camera yard added" in out
    assert "reload rejected, the running configuration stays" in out and "min_duration" in out
    assert "received SIGHUP" in out


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=20)[0]


def test_journald_lines_carry_syslog_priorities_and_json_lines_parse() -> None:
    record = logging.LogRecord("daemon.x", logging.ERROR, __file__, 1, "bad rtsp://u:pw@h/x", (), None)
    assert JournalFormatter("%(name)s: %(message)s").format(record) == "<3>daemon.x: bad rtsp://u:***@h/x"
    data = json.loads(JsonFormatter().format(record))
    assert (
        data["level"] == "ERROR"
        and data["message"] == "bad rtsp://u:***@h/x"
        and data["logger"] == "daemon.x"
    )


def test_a_config_error_is_not_restarted_and_reaches_the_journal_at_error_priority(site: Site) -> None:
    unit = (Path(__file__).parents[1] / "systemd/sitewatch.service").read_text()
    assert "RestartPreventExitStatus=2" in unit.splitlines()  # a crash loop cannot fix a config
    config = site.config([looping_camera(site, url="usb:-1")])
    done = subprocess.run(
        [sys.executable, "-m", "sitewatch.daemon", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "JOURNAL_STREAM": "8:1234"},
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert any("cameras[0].url: a USB camera is 'usb:N'" in line for line in lines), done.stderr
    assert all(line.startswith("<3>") for line in lines), done.stderr


def test_an_internal_error_is_logged_with_a_priority_on_every_line(
    site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sitewatch.daemon.cli import main
    from sitewatch.daemon.pipeline import Pipeline

    def broken(_self: Pipeline) -> None:
        raise RuntimeError("a bug at start-up")

    monkeypatch.setattr(Pipeline, "start", broken)
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    config = site.config([looping_camera(site)])
    assert main(["run", "--config", str(config), "--duration", "2"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert any("internal error; exiting" in line for line in lines)
    assert any("RuntimeError: a bug at start-up" in line for line in lines)
    traceback = [line for line in lines if line.startswith("<2>")]
    assert len(traceback) > 3 and all(line[:3] in ("<2>", "<3>", "<4>", "<6>", "<7>") for line in lines)


def test_sd_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.daemon.notify import Notifier

    name = f"sitewatch-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = Notifier()
    assert notifier.watchdog_interval == 30.0
    notifier.notify("READY=1", "STATUS=ok")
    assert sock.recv(100) == b"READY=1\nSTATUS=ok"
    notifier.close()
    sock.close()


def test_a_slow_start_asks_systemd_for_more_time_and_a_quick_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first export on a small CPU can outlast TimeoutStartSec: while it runs, systemd hears
    EXTEND_TIMEOUT_USEC, and nothing once the step is done."""
    from sitewatch.daemon.notify import Notifier, extending_start

    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    notifier = Notifier()
    try:
        with extending_start(notifier, "loading", every=0.2, extend_by=5.0):
            pass  # quicker than `every`
        assert notify.drain(0.5) == []
        with extending_start(notifier, "loading the model", every=0.2, extend_by=5.0):
            time.sleep(1.1)
        during = [m for _, m in notify.drain(0.1)]
        after = notify.drain(0.6)[len(during) :]
    finally:
        notifier.close()
        notify.close()
    assert during.count("EXTEND_TIMEOUT_USEC=5000000") >= 3
    assert "STATUS=loading the model" in during
    assert after == []
