"""The web page and its API (daemon/web/), against a running daemon: the JSON API, snapshots and clips
(with range requests), HEAD everywhere, the token, and the page itself in a real headless Chromium
(Debian's ``chromium``: .ci/run installs it)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import Site
from helpers import read_events, start_daemon, terminate, to_toml, wait_for_line, wait_until
from mosquitto import free_port

from sitewatch.daemon.demo import demo_config
from sitewatch.daemon.resources import SAMPLE_CLIP, packaged

ROOT = Path(__file__).parents[1]
PERSON = (40.0, 20.0, 80.0, 110.0, 0.9, "person")
TOKEN = "t0ken-for-the-page"


def request(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except urllib.error.URLError:
        return 0, {}, b""  # nothing listens yet


@pytest.fixture
def daemon(site: Site) -> Iterator[tuple[str, Site]]:
    """Two cameras; on 'gate' a worker without a hard hat comes and goes (alerts with snapshots and
    clips); 'yard' is quiet."""
    for i in range(3000):
        if i % 60 < 40:
            site.detect("gate", i, PERSON)
    rule = {"name": "hardhat", "kind": "ppe", "min_duration": 0.5, "clear_after": 0.3, "cooldown": 0.0}
    zone = {"pit": {"points": [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]}}
    cameras = [
        {"name": "gate", "url": str(site.video("gate", 40)), "realtime": True, "loop": True, "rules": [rule]},
        {"name": "yard", "url": str(site.video("yard", 40)), "realtime": True, "loop": True, "zones": zone,
         "rules": [{"name": "pit", "kind": "zone_intrusion", "zone": "pit"}]},
    ]  # fmt: skip
    port = free_port()
    config = site.config(
        cameras,
        service={"http_port": port},
        sinks={
            "jsonl": {"path": "out/events.jsonl", "fsync": False},
            "snapshots": {"dir": "out/snapshots"},
            "clips": {"dir": "out/snapshots", "pre_seconds": 1, "post_seconds": 1},
        },
    )
    proc = start_daemon(config)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: request(f"{base}/readyz")[0] == 200, timeout=30)
        assert wait_for_line(site.root / "out/events.jsonl", lambda e: e["type"] == "end", timeout=30)
        yield base, site
    finally:
        terminate(proc)


def test_the_api_serves_cameras_events_frames_snapshots_and_clips(daemon: tuple[str, Site]) -> None:
    base, site = daemon
    status, headers, body = request(f"{base}/api/cameras")
    assert status == 200 and headers["content-type"] == "application/json"
    cameras = {c["name"]: c for c in json.loads(body)}
    assert set(cameras) == {"gate", "yard"}
    assert cameras["gate"]["state"] == "online" and cameras["gate"]["frames"] > 0
    assert [r["name"] for r in cameras["gate"]["rules"]] == ["hardhat"]
    assert cameras["yard"]["zones"]["pit"]["points"][0] == [0.5, 0.5]

    status, headers, body = request(f"{base}/api/cameras/gate/frame.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (120, 160)
    assert request(f"{base}/api/cameras/nope/frame.jpg")[0] == 404

    events = json.loads(request(f"{base}/api/events?camera=gate&rule=hardhat")[2])
    written = read_events(site.root / "out/events.jsonl")
    assert events and {e["event_id"] for e in events} <= {e["event_id"] for e in written}
    assert [e["frame_ts"] for e in events] == sorted(
        (e["frame_ts"] for e in events), reverse=True
    )  # newest first
    assert json.loads(request(f"{base}/api/events?camera=yard")[2]) == []
    newest = events[0]["frame_ts"]
    assert json.loads(request(f"{base}/api/events?since={newest}")[2]) == []

    start = next(e for e in written if e["type"] == "start")
    status, headers, body = request(f"{base}/api/snapshots/{start['alert_id']}.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    clip = site.root / "out/snapshots" / start["clip"]
    assert wait_until(clip.is_file, timeout=20)
    status, headers, body = request(f"{base}/api/clips/{start['alert_id']}.mp4")
    assert status == 200 and headers["content-type"] == "video/mp4" and body == clip.read_bytes()
    status, headers, body = request(
        f"{base}/api/clips/{start['alert_id']}.mp4", headers={"Range": "bytes=0-99"}
    )
    assert status == 206 and len(body) == 100  # a browser can seek
    assert request(f"{base}/api/clips/../../etc/passwd.mp4")[0] == 404
    assert request(f"{base}/api/snapshots/not-an-id.jpg")[0] == 404


def test_every_endpoint_answers_head(daemon: tuple[str, Site]) -> None:
    base, _site = daemon
    alert = next(e for e in read_events(_site.root / "out/events.jsonl") if e["type"] == "start")["alert_id"]
    for path in ("/", "/livez", "/readyz", "/metrics", "/api/cameras", "/api/events",
                 "/api/cameras/gate/frame.jpg", f"/api/snapshots/{alert}.jpg", "/static/app.js"):  # fmt: skip
        get_status, get_headers, _ = request(base + path)
        status, headers, body = request(base + path, method="HEAD")
        assert (status, body) == (get_status, b""), path
        assert headers["content-type"] == get_headers["content-type"], path


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed (.ci/run installs Debian's chromium)"
    return found


def browse(url: str, *extra: str) -> str:
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--virtual-time-budget=6000", "--window-size=1280,1500", *extra, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_page_shows_the_cameras_their_rules_and_the_alerts_in_chromium(daemon: tuple[str, Site]) -> None:
    base, _site = daemon
    dom = browse(base + "/", "--dump-dom")
    assert 'data-camera="gate"' in dom and 'data-camera="yard"' in dom
    assert "hardhat" in dom and "pit" in dom
    assert "/api/snapshots/" in dom and ">play<" in dom  # an alert row with its snapshot and clip
    assert "cannot reach the daemon" not in dom
    assert "[cameras.zones.restricted]" not in dom  # the editor waits for points


@pytest.mark.model
def test_the_page_shows_the_demo_site_in_chromium(tmp_path: Path) -> None:
    """The demo's camera, rules and alerts (the shipped sample, looping live, and the demo model), as a
    browser shows them; ``SITEWATCH_WEB_SCREENSHOT=docs/web.png`` renews the docs' screenshot."""
    raw = demo_config(packaged(SAMPLE_CLIP), tmp_path / "data", mqtt=False)
    port = free_port()
    raw["model"] |= {"runtime": "torch", "device": "cpu"}  # no export: the page is what is tested
    raw["service"] = {"http_port": port}
    raw["cameras"][0] |= {"realtime": True, "loop": True}
    config = tmp_path / "demo.toml"
    config.write_text(to_toml(raw))
    proc = start_daemon(config)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_line(tmp_path / "data/events.jsonl", lambda e: e["type"] == "start", timeout=90)
        dom = browse(base + "/", "--dump-dom")
        shot = Path(os.environ.get("SITEWATCH_WEB_SCREENSHOT", tmp_path / "page.png"))
        browse(base + "/", f"--screenshot={shot}")
    finally:
        terminate(proc)
    assert 'data-camera="site"' in dom
    assert all(rule in dom for rule in ("hardhat", "restricted-area", "gate"))
    assert "/api/snapshots/" in dom and "cannot reach the daemon" not in dom
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[1] == 1280
    assert image.std() > 20  # a rendered page, not a blank one


@pytest.fixture
def token_daemon(site: Site) -> Iterator[str]:
    port = free_port()
    config = site.config(
        [{"name": "gate", "url": str(site.video("gate", 40)), "realtime": True, "loop": True}],
        service={"http_port": port, "auth_token_env": "SITEWATCH_TOKEN"},
    )
    proc = start_daemon(config, env={"SITEWATCH_TOKEN": TOKEN})
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: request(f"{base}/livez")[0] == 200, timeout=30)
        yield base
        assert TOKEN not in terminate(proc)
    finally:
        proc.kill()


def test_with_a_token_everything_but_the_probes_needs_it(token_daemon: str) -> None:
    base = token_daemon
    assert request(f"{base}/livez")[0] == 200
    assert request(f"{base}/readyz")[0] in (200, 503)
    for path in ("/", "/metrics", "/api/cameras", "/api/events"):
        status, headers, _ = request(base + path)
        assert status == 401 and headers["www-authenticate"] == 'Basic realm="sitewatch"', path
    assert request(f"{base}/api/cameras", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    assert request(f"{base}/metrics", headers={"Authorization": f"Basic {basic}"})[0] == 200
    assert request(f"{base}/api/cameras", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert TOKEN not in request(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})[2].decode()


def test_the_page_needs_no_network_beyond_the_daemon() -> None:
    """No CDN: the page must work on a site network with no internet."""
    static = ROOT / "daemon" / "web" / "static"
    for path in static.iterdir():
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path
    assert any(static.glob("*.js")) and (static / "index.html").is_file()
