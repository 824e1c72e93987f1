"""``sitewatch plan``: the sizing arithmetic on fixed measurements, and the command measuring this
machine with the real demo model and clip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitewatch.daemon.cli import main
from sitewatch.daemon.planner import Measurement, plan


def measured(
    inference_fps: float, decode_fps: float, cores: int = 2, tracking_ms: float = 0.5
) -> Measurement:
    return Measurement(
        model="m.pt", runtime="openvino", device="cpu", imgsz=640, batch=8, frame_size=(1920, 1080),
        inference_fps=inference_fps, decode_fps=decode_fps, client_ms=0.5, tracking_ms=tracking_ms,
        cores=cores, seconds=5,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("inference_fps", "decode_fps", "fps", "cameras", "per_replica", "replicas", "bound"),
    [
        # the network dominates: cores x 1/inference + decoding + tracking per frame, 75 % of 2 cores
        (100.0, 400.0, 10.0, 40, 6, 7, "the CPU cores"),
        # a fast network on many cores: the single inference thread binds first
        (400.0, 400.0, 5.0, 40, 50, 1, "the inference thread"),
        # 4K decoding on a weak box
        (1000.0, 30.0, 10.0, 10, 4, 3, "the CPU cores"),
        # too slow for even one camera
        (5.0, 400.0, 10.0, 3, 0, 0, "the CPU cores"),
    ],
)
def test_a_replica_carries_what_keeps_thread_and_cores_under_the_headroom(
    inference_fps: float,
    decode_fps: float,
    fps: float,
    cameras: int,
    per_replica: int,
    replicas: int,
    bound: str,
) -> None:
    cores = 8 if inference_fps == 400.0 else 2
    p = plan(measured(inference_fps, decode_fps, cores=cores), fps, cameras)
    assert (p.per_replica, p.replicas, p.bound) == (per_replica, replicas, bound)
    assert p.server_fps == cameras * fps
    assert p.server_machines == pytest.approx(cameras * fps / inference_fps)


def test_remote_inference_leaves_a_replica_decoding_and_tracking() -> None:
    p = plan(measured(100.0, 400.0), 10.0, 40)
    # per frame: thread 0.5 + 0.5 ms; cores 2.5 + 0.5 + 0.5 ms over 2 cores at 75 %
    assert p.remote_per_replica == 42 and p.remote_bound == "the CPU cores"
    assert p.remote_replicas == 1
    assert p.remote_per_replica > p.per_replica


@pytest.mark.model
def test_plan_measures_this_machine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    model = Path(__file__).resolve().parents[1] / "models" / "sitewatch-ppe-demo.pt"
    clip = Path(__file__).resolve().parents[1] / "samples" / "site.mp4"
    config.write_text(
        f'[model]\npath = "{model}"\nimgsz = 320\ncache_dir = "{tmp_path}/cache"\n'
        f'[[cameras]]\nname = "a"\nurl = "{clip}"\n'
    )
    assert main(["plan", "--config", str(config), "--fps", "10", "--cameras", "40", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    inference = float(re.search(r"inference: ([\d.]+) frames/s", out)[1])  # type: ignore[index]
    decoding = float(re.search(r"decoding:  ([\d.]+) frames/s", out)[1])  # type: ignore[index]
    tracking = float(re.search(r"tracking:  ([\d.]+) ms", out)[1])  # type: ignore[index]
    client = float(re.search(r"client work: ([\d.]+) ms", out)[1])  # type: ignore[index]
    assert inference > 5 and decoding > 50 and 0 < tracking < 50 and 0 < client < 50
    assert "imgsz 320, batch 8, 640x384 frames" in out
    cores = int(re.search(r"\((\d+) cores\)", out)[1])  # type: ignore[index]
    expected = plan(
        Measurement("x", "x", "x", 320, 8, (640, 384), inference, decoding, client, tracking, cores, 2),
        10,
        40,
    )
    assert f"carries {expected.per_replica} camera(s)" in out
    assert f"40 camera(s) need {expected.replicas} replica(s)" in out
    assert "the server must sustain 400 frames/s at imgsz 320" in out


def test_plan_rejects_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--fps", "0", "--cameras", "4"]) == 2
    assert "--fps and --seconds must be positive" in capsys.readouterr().err
