"""The IoU tracker's identity rules."""

from __future__ import annotations

from sitewatch.daemon.types import Detections
from sitewatch.trackers import IouTracker


def dets(*rows: tuple[float, float, float, float, str]) -> Detections:
    return Detections.from_rows([(*r[:4], 0.9, r[4]) for r in rows])  # type: ignore[list-item]


def test_tracks_are_confirmed_on_the_second_hit_and_then_keep_their_id() -> None:
    t = IouTracker(min_hits=2)
    assert len(t.update(dets((0, 0, 10, 10, "person")), 0.0).tracks) == 0
    ids = [
        t.update(dets((i, 0, 10 + i, 10, "person")), i / 10).tracks.track_id.tolist() for i in range(1, 10)
    ]
    assert ids == [[1]] * 9


def test_ids_are_never_reused_after_removal() -> None:
    t = IouTracker(min_hits=1, max_lost_seconds=0.5)
    seen = []
    ts = 0.0
    for _ in range(5):  # an object appears, leaves for 1 s (removed), and comes back
        seen += t.update(dets((0, 0, 10, 10, "person")), ts).tracks.track_id.tolist()
        ts += 1.0
        update = t.update(Detections.empty(), ts)
        assert update.removed == (seen[-1],)
        ts += 0.1
    assert seen == [1, 2, 3, 4, 5]
    assert len(t) == 0  # nothing accumulates


def test_a_person_box_never_continues_a_hardhat_track() -> None:
    t = IouTracker(min_hits=1)
    hat = t.update(dets((0, 0, 10, 10, "hardhat")), 0.0).tracks
    person = t.update(dets((0, 0, 10, 10, "person")), 0.1).tracks
    assert hat.track_id.tolist() == [1] and person.track_id.tolist() == [2]


def test_lost_buffer_is_in_seconds() -> None:
    for fps in (5, 30):
        t = IouTracker(min_hits=1, max_lost_seconds=1.0)
        t.update(dets((0, 0, 10, 10, "person")), 0.0)
        removed_at = None
        for i in range(1, 3 * fps):
            if t.update(Detections.empty(), i / fps).removed:
                removed_at = i / fps
                break
        assert removed_at is not None and 1.0 < removed_at <= 1.0 + 1 / fps


def test_crossing_objects_keep_identity_with_optimal_assignment() -> None:
    t = IouTracker(min_hits=1, iou_threshold=0.1)
    a0, b0 = (0, 0, 20, 20, "person"), (15, 0, 35, 20, "person")
    first = t.update(dets(a0, b0), 0.0).tracks
    # each moves 2 px towards the other: greedy matching on the overlap could swap them
    second = t.update(dets((2, 0, 22, 20, "person"), (13, 0, 33, 20, "person")), 0.1).tracks
    assert first.track_id.tolist() == second.track_id.tolist() == [1, 2]
