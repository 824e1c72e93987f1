"""The daemon as a real process: signals, dead cameras beside live ones, no secrets in the output."""

from __future__ import annotations

import json
import signal
import time

from conftest import Site
from helpers import start_daemon, wait_for_line
from mosquitto import free_port


def test_sigterm_ends_active_alerts_flushes_and_exits_0(site: Site) -> None:
    for i in range(300):
        site.detect("gate", i, (40, 20, 80, 110, 0.9, "person"))
    video = site.video("gate", 30)
    rule = {"name": "hardhat", "kind": "ppe", "min_duration": 0.5, "clear_after": 0.5}
    config = site.config(
        [{"name": "gate", "url": str(video), "realtime": True, "loop": True, "rules": [rule]}]
    )
    proc = start_daemon(config)
    events = site.root / "out/events.jsonl"
    try:
        assert wait_for_line(events, lambda e: e["type"] == "start", timeout=60), "no start event"
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, _ = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert took < 5.0, f"shutdown took {took:.1f} s"
    lines = events.read_text().splitlines()
    parsed = [json.loads(line) for line in lines]  # every line is complete JSON
    assert [e["type"] for e in parsed] == ["start", "end"]
    assert parsed[1]["reason"] == "shutdown" and parsed[1]["alert_id"] == parsed[0]["alert_id"]
    assert "received SIGTERM" in out


def test_unreachable_cameras_retry_while_others_run_and_no_password_leaks(site: Site) -> None:
    for i in range(30):
        site.detect("yard", i, (40, 20, 80, 110, 0.9, "person"))
    yard = site.video("yard", 30)
    port = free_port()  # nothing listens here
    rule = {"name": "hardhat", "kind": "ppe", "min_duration": 0.5, "clear_after": 0.5}
    config = site.config(
        [
            {"name": "yard", "url": str(yard), "realtime": True, "rules": [rule]},
            {
                "name": "door",
                "url": f"rtsp://admin.ops%40site:s3cr3t-inline@127.0.0.1:{port}/stream",
                "open_timeout": 2,
            },
            {
                "name": "gate",
                "url": f"rtsp://viewer@127.0.0.1:{port}/live",
                "password_env": "GATE_PW",
                "open_timeout": 2,
            },
            {"name": "usb", "url": "usb:57"},
        ]
    )
    proc = start_daemon(config, "--duration", "5", env={"GATE_PW": "hunter2-from-env"})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    events = (site.root / "out/events.jsonl").read_text()
    assert '"camera":"yard"' in events and '"type":"start"' in events
    for camera in ("door", "gate", "usb"):
        assert f"camera {camera}: reconnecting" in out
    assert "rtsp://admin.ops%40site:***@127.0.0.1" in out
    for secret in ("s3cr3t-inline", "hunter2-from-env"):
        assert secret not in out and secret not in events


def test_exit_1_when_no_camera_can_be_read(site: Site) -> None:
    bogus = site.root / "notes.mp4"
    bogus.write_text("this is not a video")
    config = site.config([{"name": "broken", "url": str(bogus)}])
    proc = start_daemon(config)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "camera broken: failed" in out and "no camera could be read (broken)" in out
    assert "Traceback" not in out
