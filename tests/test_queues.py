"""The frame hub between producers and the inference worker."""

from __future__ import annotations

import threading

import numpy as np

from sitewatch.daemon.queues import FrameHub
from sitewatch.daemon.types import Frame

IMG = np.zeros((2, 2, 3), np.uint8)


def frame(camera: str, i: int) -> Frame:
    return Frame(camera, i, i / 10, IMG)


def test_live_queue_keeps_the_freshest_frames_and_counts_drops() -> None:
    hub = FrameHub()
    hub.add_camera("cam", 3, "latest")
    stop = threading.Event()
    for i in range(10):
        assert hub.put(frame("cam", i), stop)
    assert [f.index for f in hub.take_batch(10, 0, 0.1)] == [7, 8, 9]
    assert hub.dropped("cam") == 7


def test_file_queue_blocks_the_producer_instead_of_dropping() -> None:
    hub = FrameHub()
    hub.add_camera("file", 2, "block")
    stop = threading.Event()
    done = threading.Event()

    def produce() -> None:
        for i in range(6):
            hub.put(frame("file", i), stop)
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    got: list[int] = []
    while len(got) < 6:
        got += [f.index for f in hub.take_batch(4, 0, 2.0)]
    assert got == list(range(6)) and done.wait(2.0)
    assert hub.dropped("file") == 0


def test_a_blocked_producer_is_released_by_stop() -> None:
    hub = FrameHub()
    hub.add_camera("file", 1, "block")
    stop = threading.Event()
    hub.put(frame("file", 0), stop)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(hub.put(frame("file", 1), stop)))
    t.start()
    stop.set()
    t.join(2.0)
    assert result == [False]


def test_batches_mix_cameras_round_robin_and_keep_per_camera_order() -> None:
    hub = FrameHub()
    stop = threading.Event()
    for cam in ("a", "b", "c"):
        hub.add_camera(cam, 10, "block")
    for i in range(4):
        hub.put(frame("a", i), stop)
    hub.put(frame("b", 0), stop)
    batch = hub.take_batch(4, 0, 0.1)
    assert sorted({f.camera for f in batch}) == ["a", "b"]  # b is not starved by a's backlog
    rest = hub.take_batch(10, 0, 0.1)
    a_order = [f.index for f in batch + rest if f.camera == "a"]
    assert a_order == [0, 1, 2, 3]


def test_take_batch_times_out_empty() -> None:
    hub = FrameHub()
    hub.add_camera("a", 1, "latest")
    assert hub.take_batch(4, 0.01, 0.05) == []
