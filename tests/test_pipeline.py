"""End-to-end runs of ``sitewatch run`` on generated videos, with a scripted detector replaying known
boxes, so every expected event can be stated exactly."""

from __future__ import annotations

from typing import Any

import cv2
import jsonschema
import pytest
from conftest import Site

FPS = 10
PERSON = (40.0, 20.0, 80.0, 110.0)  # head region (top 30%) is y 20..47
HAT = (48.0, 18.0, 72.0, 34.0)


def hardhat_camera(site: Site, n: int, **rule: Any) -> dict[str, Any]:
    video = site.video("cam", n, FPS)
    rule = {
        "name": "hardhat",
        "kind": "ppe",
        "required": ["hardhat"],
        "min_duration": 1.0,
        "clear_after": 0.5,
        "cooldown": 10.0,
        **rule,
    }
    return {"name": "gate", "url": str(video), "rules": [rule]}


def scene(site: Site, person: range, hat: range = range(0)) -> None:
    for i in person:
        site.detect("gate", i, (*PERSON, 0.9, "person"))
    for i in hat:
        site.detect("gate", i, (*HAT, 0.8, "hardhat"))


def starts_ends(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [e for e in events if e["type"] == "start"], [e for e in events if e["type"] == "end"]


def test_person_without_hardhat_for_3s_gives_one_start_one_end_and_a_snapshot(
    site: Site, event_schema: dict[str, Any]
) -> None:
    scene(site, person=range(0, 30))  # 3 s, then the person leaves
    site.config([hardhat_camera(site, 50)])
    result = site.run()
    assert result.rc == 0
    starts, ends = starts_ends(result.events)
    assert len(starts) == 1 and len(ends) == 1
    start, end = starts[0], ends[0]
    assert start["alert_id"] == end["alert_id"] and start["event_id"] != end["event_id"]
    assert start["rule"] == {"name": "hardhat", "kind": "ppe"} and start["camera"] == "gate"
    assert start["label"] == "person" and start["track_id"] == end["track_id"]
    assert start["bbox"]["xyxy"] == list(PERSON)
    assert start["bbox"]["normalized"] == [
        0.25,
        pytest.approx(20 / 120, abs=1e-4),
        0.5,
        pytest.approx(110 / 120, abs=1e-4),
    ]
    assert end["reason"] == "cleared"
    # the person is in the stream's first frame, so confirmed at once: the condition holds 0 s to 2.9 s
    assert start["duration_s"] == pytest.approx(1.0, abs=1e-3)
    assert end["duration_s"] == pytest.approx(2.9, abs=1e-3)
    for event in result.events:
        jsonschema.validate(event, event_schema)
    image = cv2.imread(str(result.snapshots / start["snapshot"]))
    assert image is not None and image.shape == (120, 160, 3)
    assert end["snapshot"] == start["snapshot"]
    assert len(list(result.snapshots.rglob("*.jpg"))) == 1


def test_person_with_hardhat_gives_no_event(site: Site) -> None:
    scene(site, person=range(0, 30), hat=range(0, 30))
    site.config([hardhat_camera(site, 40)])
    result = site.run()
    assert result.rc == 0 and result.events == []
    assert not list(result.snapshots.rglob("*.jpg"))


def test_violation_shorter_than_min_duration_gives_no_event(site: Site) -> None:
    scene(site, person=range(0, 30), hat=[*range(0, 10), *range(19, 30)])  # bare head 0.9 s
    site.config([hardhat_camera(site, 40, min_duration=1.0)])
    assert site.run().events == []


def test_one_flickering_hat_detection_does_not_split_the_alert(site: Site) -> None:
    scene(site, person=range(0, 40), hat=[20])  # a single false hat in the middle of 4 s
    site.config([hardhat_camera(site, 50)])
    starts, ends = starts_ends(site.run().events)
    assert len(starts) == 1 and len(ends) == 1


@pytest.mark.parametrize(
    ("cooldown", "expected_starts"),
    [(10.0, 1), (0.0, 2)],
    ids=["inside-cooldown-suppressed", "no-cooldown-starts-again"],
)
def test_cooldown_after_end_suppresses_a_new_start_for_the_same_person(
    site: Site, cooldown: float, expected_starts: int
) -> None:
    # bare head 0-2 s, hat 2-3 s (the alert ends), bare head again 3-5.5 s
    scene(site, person=range(0, 55), hat=range(20, 30))
    site.config([hardhat_camera(site, 60, cooldown=cooldown)])
    starts, ends = starts_ends(site.run().events)
    assert len(starts) == expected_starts
    assert len(ends) == expected_starts  # every start has its end (the last at track loss)


def test_zone_intrusion_fires_only_inside_the_zone(site: Site) -> None:
    for i in range(40):  # one person walks right across the frame, another stays left
        x = 5 + i * 3.0
        site.detect("yard", i, (x, 30, x + 20, 100, 0.9, "person"), (5, 30, 25, 100, 0.9, "person"))
    video = site.video("yard", 40, FPS)
    zone = {"points": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}
    rule = {
        "name": "keep-out",
        "kind": "zone_intrusion",
        "zone": "danger",
        "min_duration": 0.5,
        "clear_after": 0.3,
        "cooldown": 5,
    }
    site.config([{"name": "yard", "url": str(video), "zones": {"danger": zone}, "rules": [rule]}])
    starts, ends = starts_ends(site.run().events)
    assert len(starts) == 1 and len(ends) == 1
    assert starts[0]["zone"] == "danger"
    feet_x = (starts[0]["bbox"]["xyxy"][0] + starts[0]["bbox"]["xyxy"][2]) / 2
    assert feet_x >= 80  # the walker, once inside the right half, not the one on the left
    assert ends[0]["reason"] == "shutdown"  # still inside when the clip ended


def test_every_start_gets_an_end_at_shutdown(site: Site) -> None:
    scene(site, person=range(0, 30))
    site.config([hardhat_camera(site, 30)])  # the clip ends while the person is still there
    starts, ends = starts_ends(site.run().events)
    assert len(starts) == 1 and [e["reason"] for e in ends] == ["shutdown"]


def test_max_frames_limits_each_camera(site: Site) -> None:
    a = site.video("a", 30)
    b = site.video("b", 30)
    site.config([{"name": "a", "url": str(a)}, {"name": "b", "url": str(b)}])
    result = site.run("--max-frames", "7", "--log-level", "INFO")
    assert result.rc == 0
    assert "stopped after" in result.err and "14 frames" in result.err


def test_cameras_run_side_by_side_with_their_own_tracks(site: Site) -> None:
    for cam in ("north", "south"):
        for i in range(30):
            site.detect(cam, i, (*PERSON, 0.9, "person"))
    cams = []
    for name in ("north", "south"):
        cams.append({**hardhat_camera(site, 35), "name": name, "url": str(site.video(name, 35))})
    site.config(cams)
    starts, ends = starts_ends(site.run().events)
    assert sorted(e["camera"] for e in starts) == ["north", "south"]
    assert {e["track_id"] for e in starts} == {1}  # ids are per camera
    assert len(ends) == 2
