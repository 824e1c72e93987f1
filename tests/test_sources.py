"""File decoding with PyAV: timestamps, looping, frame-rate caps, damaged files."""

from __future__ import annotations

import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from helpers import make_video

from sitewatch.daemon.config import CameraConfig
from sitewatch.daemon.queues import FrameHub
from sitewatch.daemon.sources import CameraState, Producer, VideoSource, create_source
from sitewatch.daemon.sources.file import FileSource


def read_all(source: FileSource, limit: int = 10_000) -> list[float]:
    source.open()
    out = []
    while len(out) < limit and (item := source.read()) is not None:
        assert item[0].shape == (120, 160, 3)
        out.append(item[1])
    source.close()
    return out


def test_file_timestamps_follow_the_streams_presentation_times(tmp_path: Path) -> None:
    ts = read_all(FileSource(str(make_video(tmp_path / "v.mp4", 20, fps=10))))
    assert len(ts) == 20
    steps = [b - a for a, b in pairwise(ts)]
    assert steps == pytest.approx([0.1] * 19, abs=1e-6)  # file time, not decode time


@pytest.mark.parametrize(("width", "shape"), [(80, (60, 80, 3)), (0, (120, 160, 3)), (400, (120, 160, 3))])
def test_decode_width_scales_frames_down_in_the_decoder_and_never_up(
    tmp_path: Path, width: int, shape: tuple[int, int, int]
) -> None:
    video = make_video(tmp_path / "v.mp4", 5, fps=10, boxes=lambda i: [(40, 30, 120, 90)])
    camera = CameraConfig(name="cam", url=str(video), decode_width=width)
    source = create_source(camera)
    source.open()
    item = source.read()
    source.close()
    assert item is not None and item[0].shape == shape
    image = item[0]
    h, w = image.shape[:2]
    box = image[h * 30 // 120 + 2 : h * 90 // 120 - 2, w * 40 // 160 + 2 : w * 120 // 160 - 2]
    flat = box.reshape(-1, 3).std(axis=0).max() < 8  # one colour, per channel
    assert flat and float(box[..., 1].mean()) - float(image[:2, :2, 1].mean()) > 80  # the green box, scaled


def test_looping_keeps_time_increasing(tmp_path: Path) -> None:
    ts = read_all(FileSource(str(make_video(tmp_path / "v.mp4", 10, fps=10)), loop=True), limit=35)
    assert len(ts) == 35
    steps = [b - a for a, b in pairwise(ts)]
    assert steps == pytest.approx([0.1] * 34, abs=1e-6)


def run_producer(camera: CameraConfig, max_frames: int | None = None) -> tuple[Producer, list[float]]:
    hub = FrameHub()
    hub.add_camera(camera.name, 1000, "block")
    producer = Producer(camera, create_source(camera), hub, max_frames=max_frames)
    producer.start()
    producer.join(30)
    assert producer.done
    return producer, [f.ts for f in hub.take_batch(1000, 0, 0.1)]


def test_fps_cap_chooses_frames_by_timestamp(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", 30, fps=30)
    producer, ts = run_producer(CameraConfig(name="c", url=str(video), fps=10))
    assert len(ts) == 10
    steps = [b - a for a, b in pairwise(ts)]
    assert steps == pytest.approx([0.1] * 9, abs=1e-3)
    assert producer.state is CameraState.ENDED


def test_max_frames_stops_the_producer(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", 30)
    producer, ts = run_producer(CameraConfig(name="c", url=str(video), loop=True), max_frames=45)
    assert len(ts) == 45 and producer.frames == 45


def test_truncated_stream_decodes_what_it_can_and_ends_cleanly(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.ts", 40)  # MPEG-TS: readable up to wherever it was cut
    broken = tmp_path / "broken.ts"
    broken.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    producer, ts = run_producer(CameraConfig(name="c", url=str(broken)))
    assert producer.state is CameraState.ENDED
    assert 0 < len(ts) < 40


def test_corrupted_bytes_do_not_stop_decoding(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.ts", 40)
    data = bytearray(video.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 2000):
        data[i] ^= 0x5A
    broken = tmp_path / "corrupt.ts"
    broken.write_bytes(bytes(data))
    producer, ts = run_producer(CameraConfig(name="c", url=str(broken)))
    assert producer.state is CameraState.ENDED
    assert producer.source.decode_errors >= 1  # counted (sitewatch_decode_errors_total) and skipped
    assert len(ts) > 20  # frames after the damage are still decoded


def test_a_file_that_is_not_video_fails_without_killing_the_thread_silently(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    producer, ts = run_producer(CameraConfig(name="c", url=str(bogus)))
    assert producer.state is CameraState.FAILED and ts == []


def test_stop_interrupts_a_realtime_file(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", 10, fps=10)
    camera = CameraConfig(name="c", url=str(video), realtime=True, loop=True)
    hub = FrameHub()
    hub.add_camera("c", 2, "latest")
    producer = Producer(camera, create_source(camera), hub)
    producer.start()
    threading.Event().wait(0.5)
    producer.stop()
    producer.join(5)
    assert producer.done and producer.frames > 0


class _Unreachable(VideoSource):
    live = True

    def open(self) -> None:
        raise ConnectionRefusedError("connection refused")

    def read(self) -> None:  # pragma: no cover - never opened
        return None

    def close(self) -> None:
        pass


def test_a_camera_that_keeps_failing_goes_offline_and_keeps_retrying(monkeypatch: pytest.MonkeyPatch) -> None:
    import sitewatch.daemon.sources.base as base

    monkeypatch.setattr(base, "BACKOFF_START", 0.001)
    monkeypatch.setattr(base, "BACKOFF_MAX", 0.004)
    camera = CameraConfig(name="door", url="rtsp://127.0.0.1:9/x")
    states: list[str] = []
    hub = FrameHub()
    hub.add_camera("door", 2, "latest")
    producer = Producer(camera, _Unreachable(), hub, on_state=lambda p: states.append(p.state.value))
    producer.start()
    deadline = time.monotonic() + 5
    while producer.reconnects < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    producer.stop()
    producer.join(5)
    assert states[:2] == ["reconnecting", "offline"]  # reported once each, not per attempt
    assert producer.reconnects >= 8  # still retrying while offline
