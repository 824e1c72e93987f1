"""Remote inference over the Open Inference Protocol against a real server (KServe's ModelServer with
ONNX Runtime, tests/oip.py): the exported Triton repository, the same boxes as local inference over
REST and gRPC, and two sharded daemons that share the server and survive it dying mid-run."""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import onnx
import pytest
from helpers import read_events, start_daemon, terminate, to_toml, wait_until
from mosquitto import free_port
from oip import OipServer
from test_service import http_get

from sitewatch.daemon.cli import main
from sitewatch.daemon.config import ModelConfig
from sitewatch.daemon.detectors import InferenceUnavailable, create_detector
from sitewatch.daemon.resources import resolve_package_path
from sitewatch.daemon.sharding import assignment
from sitewatch.daemon.types import Frame

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "sitewatch-ppe-demo.pt"
SAMPLE = ROOT / "samples" / "site.mp4"
IMGSZ = 320

pytestmark = pytest.mark.model


def sample_frames(times: list[float]) -> list[Frame]:
    """Frames of the shipped site clip (PyAV) at these seconds."""
    out: list[Frame] = []
    with av.open(str(SAMPLE)) as container:
        for frame in container.decode(video=0):
            t = float(frame.time or 0.0)
            if times and t >= times[0]:
                out.append(Frame("sample", len(out), t, frame.to_ndarray(format="bgr24")))
                times = times[1:]
            if not times:
                break
    return out


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sitewatch export --for triton`` of the demo model, and beside it the plain Ultralytics ONNX
    export (float input) as a second served model."""
    root = tmp_path_factory.mktemp("triton")
    config = root / "config.toml"
    config.write_text(
        to_toml(
            {
                "model": {"path": str(MODEL), "imgsz": IMGSZ, "cache_dir": str(root / "cache")},
                "cameras": [{"name": "a", "url": str(SAMPLE)}],
            }
        )
    )
    assert main(["export", "--config", str(config), "--for", "triton", str(root / "repo")]) == 0
    plain = root / "repo" / "plain" / "1"
    plain.mkdir(parents=True)
    shutil.copyfile(next((root / "cache").glob("*-onnxruntime-*/*.onnx")), plain / "model.onnx")
    return root / "repo"


@pytest.fixture(scope="module")
def server(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OipServer]:
    log = tmp_path_factory.mktemp("oip") / "server.log"
    srv = OipServer([repository / "sitewatch", repository / "plain"], log).start()
    yield srv
    srv.stop()


def test_the_triton_repository_takes_uint8_frames_and_batches_dynamically(repository: Path) -> None:
    text = (repository / "sitewatch" / "config.pbtxt").read_text()
    assert re.search(r'name: "sitewatch"', text)
    assert re.search(r'backend: "onnxruntime"', text)
    assert re.search(r"data_type: TYPE_UINT8\s+dims: \[ -1, -1, 3 \]", text)
    assert re.search(r"data_type: TYPE_FP32\s+dims: \[ 7, -1 \]", text)  # 4 box values + 3 classes
    assert "dynamic_batching" in text and re.search(r"max_batch_size: \d+", text)
    names = re.search(r'key: "sitewatch_names"\s+value: \{ string_value: "(.*)" \}', text)
    assert names and json.loads(names[1].replace('\\"', '"')) == {"0": "person", "1": "hardhat", "2": "head"}
    model = onnx.load(str(repository / "sitewatch" / "1" / "model.onnx"))
    onnx.checker.check_model(model)
    (tensor,) = model.graph.input
    assert tensor.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert tensor.type.tensor_type.shape.dim[3].dim_value == 3  # NHWC


@pytest.mark.parametrize(
    ("protocol", "served"),
    [("http", "sitewatch"), ("grpc", "sitewatch"), ("http", "plain"), ("grpc", "plain")],
)
def test_remote_boxes_equal_local_inference(server: OipServer, protocol: str, served: str) -> None:
    frames = sample_frames([2.0, 11.0, 23.0, 37.0, 48.0])
    frames.append(
        Frame("crop", 0, 0.0, np.ascontiguousarray(frames[1].image[:, : frames[1].image.shape[1] // 2]))
    )
    base = {"path": str(MODEL), "imgsz": IMGSZ, "min_confidence": 0.25}
    local = create_detector(ModelConfig(**base, runtime="onnxruntime", cache_dir=server.log.parent / "cache"))
    url = server.http_url if protocol == "http" else server.grpc_url
    remote = create_detector(
        ModelConfig(**base, backend="remote", remote={"url": url, "model_name": served, "max_in_flight": 3})
    )
    try:
        expected, got = local.detect(frames), remote.detect(frames)  # six frames of two sizes, 3 requests
    finally:
        local.close()
        remote.close()
    assert sum(len(d) for d in expected) >= 10  # the demo model sees the site's workers
    for want, have in zip(expected, got, strict=True):
        assert have.label.tolist() == want.label.tolist()
        np.testing.assert_allclose(have.xyxy, want.xyxy, atol=0.5)
        np.testing.assert_allclose(have.confidence, want.confidence, atol=1e-3)


def test_check_config_asks_the_server_about_the_model(
    server: OipServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def config(url: str) -> Path:
        path = tmp_path / "c.toml"
        remote = {"url": url, "timeout_s": 1.0, "retries": 0}
        path.write_text(
            to_toml(
                {
                    "model": {"backend": "remote", "path": str(MODEL), "imgsz": IMGSZ, "remote": remote},
                    "cameras": [{"name": "a", "url": str(SAMPLE)}],
                    "state_file": str(tmp_path / "state.sqlite"),
                    "sinks": {
                        "jsonl": {"path": str(tmp_path / "e.jsonl")},
                        "snapshots": {"dir": str(tmp_path)},
                    },
                    "record_dir": str(tmp_path),
                }
            )
        )
        return path

    assert main(["check-config", str(config(server.grpc_url))]) == 0
    out = capsys.readouterr().out
    assert (
        f"inference server: {server.grpc_url} serves 'sitewatch': UINT8 images in, output0 [-1, 7, -1] out"
        in out
    )
    assert main(["check-config", str(config(f"http://127.0.0.1:{free_port()}"))]) == 0  # down: a warning
    captured = capsys.readouterr()
    assert (
        "warning: inference server not answering" in captured.err and "run starts and retries" in captured.err
    )


def test_a_server_hosting_another_model_is_told_apart(server: OipServer) -> None:
    """model.path names the model the server hosts; one with other classes is not decoded as if it were."""
    other = resolve_package_path("pkg:fall_detection/models/best.pt")  # 2 classes, the server's has 3
    remote = create_detector(
        ModelConfig(
            path=str(other), imgsz=IMGSZ, backend="remote", remote={"url": server.http_url, "retries": 0}
        )
    )
    try:
        with pytest.raises(InferenceUnavailable, match=r"does not fit best.pt \(2 classes\)"):
            remote.detect(sample_frames([2.0]))
    finally:
        remote.close()


def _total(text: str, name: str) -> float:
    """A metric summed over its label sets (all cameras)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def _frames_by_camera(metrics: str) -> dict[str, float]:
    return {
        m[1]: float(m[2])
        for m in re.finditer(r'^sitewatch_frames_total\{camera="([^"]+)"\} (\S+)$', metrics, re.M)
    }


def test_two_sharded_daemons_share_a_server_and_survive_it_dying(server: OipServer, tmp_path: Path) -> None:
    cameras = ["gate", "crane", "scaffold-north", "yard", "store"]
    table = assignment(cameras, 2)
    assert table[0] and table[1], table
    config = tmp_path / "config.toml"
    config.write_text(
        to_toml(
            {
                "model": {
                    "backend": "remote",
                    "path": str(MODEL),
                    "imgsz": IMGSZ,
                    "max_batch": 4,
                    "remote": {"url": server.http_url, "timeout_s": 2.0, "retries": 1},
                },
                "sinks": {"jsonl": {"path": "out/events.jsonl", "fsync": False}},
                "cameras": [
                    {"name": n, "url": str(SAMPLE), "realtime": True, "loop": True, "fps": 3.0}
                    for n in cameras
                ],
            }
        )
    )
    ports = [free_port(), free_port()]
    procs = []
    for i in range(2):
        (tmp_path / f"r{i}").mkdir()
        procs.append(
            start_daemon(
                config,
                "--shard",
                f"{i}/2",
                "--http-port",
                str(ports[i]),
                env={"STATE_DIRECTORY": str(tmp_path / f"r{i}")},
            )
        )
    base = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        assert wait_until(lambda: all(http_get(f"{b}/readyz")[0] == 200 for b in base), 90, 0.5), [
            http_get(f"{b}/readyz") for b in base
        ]
        assert wait_until(
            lambda: all(sum(_frames_by_camera(http_get(f"{b}/metrics")[1]).values()) >= 10 for b in base),
            60,
            0.5,
        )
        seen = [_frames_by_camera(http_get(f"{b}/metrics")[1]) for b in base]
        for i in range(2):  # every camera processed by exactly one replica: its shard's
            assert {c for c, n in seen[i].items() if n > 0} == set(table[i]), seen
            assert set(seen[i]) == set(table[i])
            info = http_get(f"{base[i]}/metrics")[1]
            assert f'shard="{i}"' in info and 'shards="2"' in info

        server.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        server.proc.wait()  # type: ignore[union-attr]
        down_at = time.monotonic()
        assert wait_until(
            lambda: all("inference_unavailable" in http_get(f"{b}/readyz")[1] for b in base), 30, 0.5
        ), [http_get(f"{b}/readyz") for b in base]
        assert all(http_get(f"{b}/readyz")[0] == 503 for b in base)
        assert wait_until(
            lambda: all(
                _total(http_get(f"{b}/metrics")[1], "sitewatch_inference_dropped_frames_total") >= 5
                for b in base
            ),
            30,
            0.5,
        )
        for b in base:
            metrics = http_get(f"{b}/metrics")[1]
            assert _total(metrics, "sitewatch_inference_available") == 0.0
        frozen = [_frames_by_camera(http_get(f"{b}/metrics")[1]) for b in base]
        time.sleep(max(0.0, 5 - (time.monotonic() - down_at)))  # down for a while, then back

        server.start()  # the same ports: the server is back
        assert wait_until(lambda: all(http_get(f"{b}/readyz")[0] == 200 for b in base), 60, 0.5), [
            http_get(f"{b}/readyz") for b in base
        ]
        assert wait_until(
            lambda: all(
                sum(_frames_by_camera(http_get(f"{b}/metrics")[1]).values()) > sum(frozen[i].values()) + 5
                for i, b in enumerate(base)
            ),
            60,
            0.5,
        )
        for b in base:
            assert _total(http_get(f"{b}/metrics")[1], "sitewatch_inference_available") == 1.0
    finally:
        outs = [terminate(p) for p in procs]
        if server.proc is None or server.proc.poll() is not None:
            server.start()  # the module's other tests may still need it
    for i, out in enumerate(outs):
        assert "Traceback" not in out, out[-4000:]
        assert "inference_unavailable" in out and "inference available again" in out, out[-4000:]
        assert out.count("inference_unavailable: ") <= 3, out[-4000:]  # one line per outage, not per batch
        events = read_events(tmp_path / f"r{i}" / "out" / "events.jsonl")
        assert {e["camera"] for e in events} <= set(table[i])
