"""Bad configs: each is reported as ``key.path: message`` and exits 2, with no traceback, for both
``run`` and ``check-config``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Site
from helpers import to_toml

from sitewatch.daemon.cli import main


def good(site: Site) -> dict[str, Any]:
    video = site.video("cam", 5)
    site.detect("cam", 0, (1, 1, 10, 10, 0.9, "person"))
    script = site.root / "script.jsonl"
    script.write_text('{"labels": ["person", "hardhat"]}\n')
    return {
        "model": {"backend": "scripted", "path": str(script)},
        "cameras": [
            {
                "name": "cam",
                "url": str(video),
                "zones": {"z": {"points": [[0, 0], [1, 0], [1, 1]]}},
                "rules": [{"name": "r", "kind": "zone_intrusion", "zone": "z"}],
            }
        ],
    }


def edit(cfg: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b[0].c`` (or delete it when value is ...)."""
    keys: list[Any] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        keys.append(int(part) if part.isdigit() else part)
    node = cfg
    for k in keys[:-1]:
        node = node[k]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


CASES = [
    ("unknown top-level key", "colour", "red", "colour: unknown key"),
    ("unknown camera key", "cameras[0].ulr", "x", "cameras[0].ulr: unknown key"),
    ("missing model path", "model.path", ..., "model.path: Field required"),
    ("wrong type", "cameras[0].fps", "fast", "cameras[0].fps: Input should be a valid number"),
    (
        "out of range",
        "model.min_confidence",
        2.0,
        "model.min_confidence: Input should be less than or equal to 1",
    ),
    (
        "bad backend",
        "model.backend",
        "magic",
        "model.backend: must be one of 'ultralytics', 'transformers', 'zero_shot', 'scripted' or 'remote'",
    ),
    ("bad device", "model.device", "gpu9", "model.device: must be 'auto'"),
    (
        "bad inference server",
        "model.remote",
        {"url": "triton:8001"},
        "model.remote.url: must be http(s)://host:port or grpc(s)://host:port",
    ),
    ("missing video file", "cameras[0].url", "/nonexistent/clip.mp4", "cameras[0].url: video file not found"),
    ("missing model file", "model.path", "/nonexistent/model.pt", "model.path: model file not found"),
    ("bad camera name", "cameras[0].name", "../etc", "cameras[0].name: String should match pattern"),
    (
        "unknown rule kind",
        "cameras[0].rules[0].kind",
        "teleport",
        "cameras[0].rules[0].kind: unknown rule kind 'teleport'",
    ),
    (
        "unknown zone",
        "cameras[0].rules[0].zone",
        "nowhere",
        "cameras[0].rules[0].zone: unknown zone 'nowhere' (zones: z)",
    ),
    (
        "rule field type",
        "cameras[0].rules[0].min_duration",
        "long",
        "cameras[0].rules[0].min_duration: Input should be a valid number",
    ),
    (
        "label the model lacks",
        "cameras[0].rules[0].labels",
        ["forklift"],
        "cameras[0].rules[0].labels: label(s) 'forklift' not produced by the model",
    ),
    (
        "zone point out of range",
        "cameras[0].zones.z.points",
        [[0, 0], [2, 0], [1, 1]],
        "cameras[0].zones.z: normalized points must lie within 0..1",
    ),
    ("unset password variable", "cameras[0].url", "rtsp://cam.local/stream", None),
    ("no cameras", "cameras", [], "cameras: List should have at least 1 item"),
    (
        "label map names no class",
        "model.labels",
        {"Nomral": "person"},
        "model.labels: 'Nomral' is not a class of the model",
    ),
    (
        "mqtt password variable unset",
        "sinks",
        {"mqtt": {"enabled": True, "username": "u", "password_env": "SITEWATCH_UNSET_PW"}},
        "sinks.mqtt.password_env: environment variable SITEWATCH_UNSET_PW is not set",
    ),
    (
        "mqtt two password sources",
        "sinks",
        {"mqtt": {"username": "u", "password_env": "A", "password_file": "/x"}},
        "sinks.mqtt: give at most one of password_env, password_file, password_credential",
    ),
    (
        "mqtt CA file missing",
        "sinks",
        {"mqtt": {"enabled": True, "tls": {"enabled": True, "ca_file": "/nonexistent/ca.crt"}}},
        "sinks.mqtt.tls.ca_file: file not found: /nonexistent/ca.crt",
    ),
    ("mqtt bad qos", "sinks", {"mqtt": {"qos": 3}}, "sinks.mqtt.qos: must be one of 0, 1 or 2"),
    (
        "line with one point twice",
        "cameras[0].lines",
        {"door": {"points": [[0.2, 0.1], [0.2, 0.1]]}},
        "cameras[0].lines.door: the two points must differ",
    ),
    (
        "line outside the frame",
        "cameras[0].lines",
        {"door": {"points": [[0.2, 0.1], [1.2, 0.1]]}},
        "cameras[0].lines.door: normalized points must lie within 0..1",
    ),
    (
        "mqtt wildcard prefix",
        "sinks",
        {"mqtt": {"topic_prefix": "site/#"}},
        "sinks.mqtt.topic_prefix: must be levels of letters, digits and",
    ),
    # What once passed validation and then crashed 'run' or a reload (found by fuzzing).
    (
        "mqtt $-prefix",
        "sinks",
        {"mqtt": {"topic_prefix": "$SYS/sitewatch"}},
        "sinks.mqtt.topic_prefix: must not start with '$'",
    ),
    ("mqtt empty level", "sinks", {"mqtt": {"topic_prefix": "a//b"}}, "sinks.mqtt.topic_prefix: must be"),
    ("empty http host", "service", {"http_host": ""}, "service.http_host: String should have at least 1"),
    ("usb not a number", "cameras[0].url", "usb:abc", "cameras[0].url: a USB camera is 'usb:N'"),
    ("usb negative", "cameras[0].url", "usb:-1", "cameras[0].url: a USB camera is 'usb:N'"),
    ("v4l2 not a device", "cameras[0].url", "/dev/videofoo", "cameras[0].url: a V4L2 device is"),
    ("rtsp unparseable", "cameras[0].url", "rtsp://[::1/x", "cameras[0].url: not a valid rtsp:// URL"),
    ("rtsp bad port", "cameras[0].url", "rtsp://cam:99999/x", "cameras[0].url: not a valid rtsp:// URL"),
    ("rtsp without host", "cameras[0].url", "rtsp:///stream", "cameras[0].url: an rtsp:// URL needs a host"),
    ("url with a newline", "cameras[0].url", "rtsp://cam/x\n", "cameras[0].url: must not be empty or"),
    (
        "infinite size",
        "sinks",
        {"mqtt": {"outbox": {"max_mb": float("inf")}}},
        "sinks.mqtt.outbox.max_mb: Input should be a finite number",
    ),
    (
        "huge size",
        "sinks",
        {"mqtt": {"outbox": {"max_mb": 1e308}}},
        "sinks.mqtt.outbox.max_mb: Input should be less than or equal to",
    ),
    (
        "nan timeout",
        "cameras[0].open_timeout",
        float("nan"),
        "cameras[0].open_timeout: Input should be a finite",
    ),
    ("huge timeout", "cameras[0].read_timeout", 1e308, "cameras[0].read_timeout: Input should be less than"),
    ("huge cooldown", "cameras[0].rules[0].cooldown", 1e308, "cameras[0].rules[0].cooldown: Input should be"),
    (
        "huge pixel coordinate",
        "cameras[0].zones",
        {"z": {"points": [[0, 0], [1e308, 0], [0, 1]], "units": "pixels"}},
        "cameras[0].zones.z: pixel coordinates must lie within",
    ),
    (
        "zone name ending in a newline",
        "cameras[0].zones",
        {"z\n": {"points": [[0, 0], [1, 0], [1, 1]]}},
        "cameras[0].zones: name 'z\\n' must match",
    ),
    ("events file is a directory", "sinks", {"jsonl": {"path": "/"}}, "sinks.jsonl.path: / is a directory"),
    (
        "events file under a regular file",
        "sinks",
        {"jsonl": {"path": "/dev/null/events.jsonl"}},
        "sinks.jsonl.path: cannot create /dev/null/events.jsonl: /dev/null is a file, not a directory",
    ),
    (
        "snapshot dir is a file",
        "sinks",
        {"snapshots": {"dir": "/dev/null"}},
        "sinks.snapshots.dir: /dev/null is a file, not a directory",
    ),
    (
        "name over 255 bytes",
        "sinks",
        {"jsonl": {"path": "/tmp/" + "x" * 300 + ".jsonl"}},
        "sinks.jsonl.path: a name in /tmp/xxx",
    ),
    (
        "outbox under a regular file",
        "sinks",
        {"mqtt": {"enabled": True, "outbox": {"path": "/dev/null/o.sqlite"}}},
        "sinks.mqtt.outbox.path: cannot create /dev/null/o.sqlite",
    ),
    (
        "video path over 255 bytes",
        "cameras[0].url",
        "/tmp/" + "y" * 300 + ".mp4",
        "cameras[0].url: video file unusable (File name too long)",
    ),
]


@pytest.mark.parametrize(("what", "key", "value", "expected"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["run", "check-config"])
def test_bad_config_names_the_key_and_exits_2(
    site: Site,
    capsys: pytest.CaptureFixture[str],
    command: str,
    what: str,
    key: str,
    value: Any,
    expected: str | None,
) -> None:
    cfg = good(site)
    edit(cfg, key, value)
    if what == "unset password variable":
        cfg["cameras"][0]["password_env"] = "SITEWATCH_TEST_UNSET_PASSWORD"
        expected = "cameras[0].password_env: environment variable SITEWATCH_TEST_UNSET_PASSWORD is not set"
    path = site.root / "bad.toml"
    path.write_text(to_toml(cfg))
    argv = ["run", "--config", str(path)] if command == "run" else ["check-config", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err


def test_duplicate_camera_and_rule_names_are_reported_together(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = good(site)
    cfg["cameras"].append(dict(cfg["cameras"][0]))
    cfg["cameras"][1]["rules"] = [cfg["cameras"][0]["rules"][0]] * 2
    path = site.root / "bad.toml"
    path.write_text(to_toml(cfg))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cameras[1].name: camera name 'cam' is used twice" in err
    assert "cameras[1].rules[1].name: rule name 'r' is used twice" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model = [", "invalid TOML"),
        (None, "config file not found"),
        ("a = " + "[" * 5000 + "]" * 5000, "invalid TOML: nested too deeply"),
        ("a = " + "{b = " * 5000 + "1" + "}" * 5000, "invalid TOML: nested too deeply"),
    ],
    ids=["invalid-toml", "missing-file", "deep-arrays", "deep-tables"],
)
def test_unreadable_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, expected: str
) -> None:
    path = tmp_path / "c.toml"
    if text is not None:
        path.write_text(text)
    assert main(["check-config", str(path)]) == 2
    assert expected in capsys.readouterr().err


def test_the_installed_command_exits_2_without_traceback(site: Site) -> None:
    cfg = good(site)
    cfg["cameras"][0]["fps"] = -1
    path = site.root / "bad.toml"
    path.write_text(to_toml(cfg))
    proc = subprocess.run(
        [sys.executable, "-m", "sitewatch.daemon", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 2
    assert "cameras[0].fps: Input should be greater than or equal to 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_config_prints_a_summary_of_the_default_config(capsys: pytest.CaptureFixture[str]) -> None:
    default = Path(__file__).parents[1] / "config.toml"
    assert main(["check-config", str(default)]) == 0
    out = capsys.readouterr().out
    assert "cameras: 1" in out and "site: file" in out
    assert "rule restricted-area: zone_intrusion on restricted" in out and "rule hardhat: ppe" in out
    assert "labels:  hardhat, head, person" in out
    assert "config OK" in out


def test_relative_paths_resolve_against_the_config_file(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.daemon.config import load_config

    cfg = good(site)
    cfg["cameras"][0]["url"] = "cam.mp4"
    cfg["model"]["path"] = "script.jsonl"
    (site.root / "c.toml").write_text(to_toml(cfg))
    monkeypatch.chdir("/")
    loaded = load_config(site.root / "c.toml")
    assert loaded.cameras[0].url == str(site.root / "cam.mp4")
    assert loaded.model.path == str(site.root / "script.jsonl")
    assert loaded.sinks.jsonl.path == site.root / "sitewatch-data/events.jsonl"


@pytest.mark.model
@pytest.mark.parametrize(
    ("model_file", "device", "expected"),
    [
        ("garbage.onnx", "cpu", "model.path: cannot load model"),
        ("garbage.pt", "cpu", "model.path: cannot load model"),
        ("demo", "cuda:0", "model.device: 'cuda:0' but CUDA is not available on this machine"),
    ],
    ids=["onnx-that-is-not-a-model", "pt-that-is-not-a-model", "cuda-without-cuda"],
)
def test_a_model_that_cannot_run_here_is_a_config_error(
    site: Site, capsys: pytest.CaptureFixture[str], model_file: str, device: str, expected: str
) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    demo = Path(__file__).parents[1] / "models/sitewatch-ppe-demo.pt"
    if model_file == "demo":
        path = demo
    else:
        path = site.root / model_file
        path.write_bytes(os.urandom(3000))
    cfg = good(site)
    cfg["model"] = {"backend": "ultralytics", "path": str(path), "device": device}
    cfg["cameras"][0]["rules"] = []
    config = site.root / "c.toml"
    config.write_text(to_toml(cfg))
    for argv in (["check-config", str(config)], ["run", "--config", str(config)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, err


def test_check_config_validates_a_deployed_config_with_its_env_file_and_credentials(
    site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GATE_CAMERA_PASSWORD", "CREDENTIALS_DIRECTORY"):  # check-config sets them: restore after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    cfg = good(site)
    cfg["cameras"].append(
        {"name": "gate", "url": "rtsp://viewer@10.0.0.21/stream1", "password_env": "GATE_CAMERA_PASSWORD"}
    )
    cfg["sinks"] = {
        "mqtt": {"enabled": True, "username": "site", "password_credential": "mqtt-password"},
    }
    config = site.root / "deployed.toml"
    config.write_text(to_toml(cfg))
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "cameras[1].password_env: environment variable GATE_CAMERA_PASSWORD is not set" in err
    assert "sinks.mqtt.password_credential: $CREDENTIALS_DIRECTORY is not set" in err

    env = site.root / "secrets.env"
    env.write_text('# camera passwords\nGATE_CAMERA_PASSWORD="hunter2-gate"\n\n')
    creds = site.root / "credentials"
    creds.mkdir()
    (creds / "mqtt-password").write_text("s3cret-mqtt\n")
    argv = ["check-config", str(config), "--env-file", str(env), "--credentials-dir", str(creds)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "config OK" in out
    assert "hunter2" not in out + err and "s3cret" not in out + err

    env.write_text("GATE_CAMERA_PASSWORD hunter2-gate\n")  # a line that is not KEY=VALUE
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--env-file {env}:1: not KEY=VALUE" in err and "hunter2" not in err
