"""Evidence clips (daemon/clips.py, sinks/clips.py): the seconds around an alert as an MP4 that decodes,
cut from the camera's own H.264 packets without re-encoding, or encoded once from kept JPEGs for cameras
without packets; the ring that holds them stays bounded."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from conftest import Site
from helpers import moving_box_frames, read_events
from videos import write_video

from sitewatch.daemon.clips import ClipRing, write_clip
from sitewatch.daemon.sources.pyav import PyAvDecoder

FPS = 10
PERSON = (40.0, 20.0, 80.0, 110.0, 0.9, "person")


def h264(path: Path, frames: int, gop: int = 20) -> Path:
    """A camera-like stream: H.264 with a keyframe every ``gop`` frames (2 s at 10 fps)."""
    write_video(
        path,
        moving_box_frames(frames, (160, 120), lambda i: [(5 + i % 100, 20, 40 + i % 100, 90)]),
        fps=FPS,
        gop=gop,
    )
    return path


def decode_all(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [(float(f.time or 0.0), f.to_ndarray(format="bgr24")) for f in c.decode(v)]


def fill(ring: ClipRing, video: Path, t0: float = 1000.0) -> list[np.ndarray]:
    """Decode ``video`` as a source would, committing each frame to ``ring`` at t0 + its time."""
    decoder = PyAvDecoder(str(video))
    decoder.ring = ring
    decoder.open()
    images = []
    while (item := decoder.read()) is not None:
        image, pts = item
        ring.commit(t0 + (pts or 0.0), image)
        images.append(image)
    decoder.close()
    return images


def test_a_clip_is_the_cameras_own_packets_from_the_keyframe_before_its_start(tmp_path: Path) -> None:
    video = h264(tmp_path / "cam.mp4", 200)  # 20 s, keyframes at 0, 2, 4, ... s
    ring = ClipRing(seconds=60, max_bytes=64 << 20)
    originals = fill(ring, video)
    clip = ring.take(1000.0 + 7.0, 1000.0 + 13.0)  # 7 s .. 13 s
    assert clip is not None and clip.mode == "packets" and clip.codec == "h264"
    assert clip.entries[0].key and clip.start == pytest.approx(1006.0, abs=0.15)  # the keyframe at 6 s
    write_clip(clip, tmp_path / "clip.mp4")
    frames = decode_all(tmp_path / "clip.mp4")
    assert len(frames) == pytest.approx(71, abs=2)  # 6.0 .. 13.0 s at 10 fps
    # not re-encoded: every frame is the one the camera's stream decodes to at that time
    t0 = frames[0][0]  # the MP4's timeline may start a B-frame delay after 0
    for t, image in frames[::10]:
        original = originals[round((6.0 + t - t0) * FPS)]
        assert np.array_equal(image, original)


def test_a_clip_of_a_stream_joined_mid_interval_starts_at_its_first_keyframe(tmp_path: Path) -> None:
    video = h264(tmp_path / "cam.mp4", 60, gop=25)
    ring = ClipRing(seconds=60, max_bytes=64 << 20)
    decoder = PyAvDecoder(str(video))
    decoder.ring = ring
    decoder.open()
    for i in range(60):  # the ring joins at frame 5, as a camera's stream joined between keyframes
        item = decoder.read()
        assert item is not None
        if i == 4:
            ring.begin(decoder._container.streams.video[0])  # a fresh segment mid-interval
        ring.commit(1000.0 + i / FPS, item[0])
    decoder.close()
    clip = ring.take(1000.0, 1006.0)
    assert clip is not None and clip.entries[0].key
    write_clip(clip, tmp_path / "clip.mp4")
    assert len(decode_all(tmp_path / "clip.mp4")) >= 30  # from the keyframe at 2.5 s on, all decodable


def test_the_ring_keeps_whole_keyframe_intervals_within_its_seconds_and_bytes(tmp_path: Path) -> None:
    video = h264(tmp_path / "cam.mp4", 300)  # 30 s
    ring = ClipRing(seconds=8, max_bytes=64 << 20)
    fill(ring, video)
    kept = ring.take(0, 2000)
    assert kept is not None and kept.entries[0].key
    assert 8.0 <= kept.end - kept.start <= 8.0 + 2.0 + 0.1  # the seconds, plus at most one interval
    tight = ClipRing(seconds=60, max_bytes=sum(len(e.data) for e in kept.entries) // 2)
    fill(tight, video)
    small = tight.take(0, 2000)
    assert small is not None and sum(len(e.data) for e in small.entries) <= tight.max_bytes + 64_000
    assert tight.trimmed_over_size > 0


def test_cameras_without_packets_keep_jpegs_and_get_an_encoded_clip(tmp_path: Path) -> None:
    ring = ClipRing(seconds=30, max_bytes=64 << 20, fps=5, width=320)
    for i, image in enumerate(
        moving_box_frames(150, (640, 480), lambda i: [(10 + 3 * i, 50, 80 + 3 * i, 300)])
    ):
        ring.commit(1000.0 + i / 25, image)  # a 25 fps USB camera: no begin(), no packets
    clip = ring.take(1001.0, 1005.0)
    assert clip is not None and clip.mode == "jpeg"
    write_clip(clip, tmp_path / "clip.mp4")
    with av.open(str(tmp_path / "clip.mp4")) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        assert (v.codec_context.name, v.width, v.height) == ("h264", 320, 240)
    assert len(frames) == pytest.approx(21, abs=2)  # 4 s at 5 fps
    assert float(frames[-1].time - frames[0].time) == pytest.approx(4.0, abs=0.25)


def test_each_alert_gets_a_clip_that_covers_the_promised_seconds(site: Site) -> None:
    """A worker without a hat from 8 s to 12 s of a 25-s camera stream: the clip decodes and covers
    pre_seconds before the condition began to post_seconds after the alert's start."""
    for i in range(80, 120):
        site.detect("gate", i, PERSON)
    video = h264(site.root / "gate.mp4", 250)
    rules = [{"name": "hardhat", "kind": "ppe", "min_duration": 1.0, "clear_after": 0.5}]
    site.config(
        [{"name": "gate", "url": str(video), "rules": rules}],
        sinks={
            "jsonl": {"path": "out/events.jsonl", "fsync": False},
            "snapshots": {"dir": "out/snapshots"},
            "clips": {"dir": "out/snapshots", "pre_seconds": 3, "post_seconds": 5},
        },
    )
    assert site.run().rc == 0
    events = read_events(site.root / "out/events.jsonl")
    [start] = [e for e in events if e["type"] == "start"]
    assert start["clip"] == f"gate/{start['alert_id']}.mp4"
    path = site.root / "out/snapshots" / start["clip"]
    assert path.is_file() and (path.with_suffix(".jpg")).is_file()  # beside its snapshot
    frames = decode_all(path)
    began, decided = start["media_ts"] - start["duration_s"], start["media_ts"]
    assert len(frames) / FPS >= 3 + (decided - began) + 5 - 0.15
    assert len(frames) / FPS <= 3 + (decided - began) + 5 + 2.0 + 0.15  # a keyframe interval early at most
    assert not list((site.root / "out/snapshots").rglob("*.tmp"))
