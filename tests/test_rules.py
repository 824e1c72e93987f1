"""Every rule kind, frame by frame through the rule engine, with exact expected event sequences; then
properties over random streams (hypothesis) and frame-rate independence."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.daemon.attributes.vote import Decision
from sitewatch.daemon.config import CameraConfig, ConfigError, LineConfig, parse_config
from sitewatch.daemon.events import Event
from sitewatch.daemon.rules import build_engine
from sitewatch.daemon.types import Detections, Frame, Tracks

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
"""Checked once; ``jsonschema.validate`` would check the schema itself again for every event."""
SIZE = (200, 100)
IMAGE = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
Box = tuple[float, float, float, float]


def tracks(*rows: tuple[int, Box, str]) -> Tracks:
    return Tracks(
        track_id=np.array([r[0] for r in rows], np.int64),
        xyxy=np.array([r[1] for r in rows], np.float32).reshape(-1, 4),
        confidence=np.full(len(rows), 0.9, np.float32),
        label=np.array([r[2] for r in rows], dtype=np.str_),
        detection=np.arange(len(rows), dtype=np.int64),
    )


def run(
    camera: dict[str, Any],
    frames: list[tuple[float, Tracks, Detections, tuple[int, ...]]],
    attributes: Callable[[float], dict[int, dict[str, Decision]]] | None = None,
) -> list[Event]:
    """Feed (ts, tracks, extra detections, removed) frames to the camera's rules (with the second
    stage's decisions at time t, if given); returns every event, the shutdown ones included."""
    # The scenes hold still boxes from the first frame: background handling is tested on its own.
    cam = CameraConfig.model_validate({"name": "cam", "url": "x.mp4", "background_at_start": False, **camera})
    engine = build_engine(cam, model="m.pt", snapshots=True)
    events = []
    for i, (ts, trk, dets, removed) in enumerate(frames):
        all_dets = Detections(
            np.concatenate([trk.xyxy, dets.xyxy]),
            np.concatenate([trk.confidence, dets.confidence]),
            np.concatenate([trk.label, dets.label]),
        )
        decided = attributes(ts) if attributes is not None else None
        events += [
            m.event for m in engine.process(Frame("cam", i, ts, IMAGE), all_dets, trk, removed, decided)
        ]
    events += [m.event for m in engine.close()]
    for e in events:
        VALIDATOR.validate(e.to_dict())
    return events


def seq(events: list[Event]) -> list[tuple[str, int | None, float, str | None]]:
    """(type, track, frame time rounded to 0.01 s, end reason)."""
    return [(e.type, e.track_id, round(e.frame_ts, 2), e.reason) for e in events]


def scene(seconds: float, fps: float, who: Any) -> list[tuple[float, Tracks, Detections, tuple[int, ...]]]:
    """``who(t)`` → (tracks rows, detection rows, removed ids) at time t."""
    out = []
    for k in range(round(seconds * fps)):
        t = k / fps
        trk, dets, removed = who(t)
        out.append((t, tracks(*trk), Detections.from_rows(dets), removed))
    return out


PERSON: Box = (20, 10, 40, 90)  # head region (top 30 %) is y 10..34
HAT = (22, 8, 38, 20, 0.8, "hardhat")
HEAD = (24, 10, 36, 24, 0.8, "head")  # fits the head region better than HAT: its top is at the person's
WEAK_HAT = (*HAT[:4], 0.65, "hardhat")
WEAK_HEAD = (*HEAD[:4], 0.3, "head")
ZONE = {"right": {"points": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}}
TIMING = {"min_duration": 1.0, "clear_after": 0.3, "cooldown": 5.0}


def at(x: float) -> Box:
    return (x, 10, x + 20, 90)


# --- ppe -----------------------------------------------------------------------------------------------

WORKER = [(1, PERSON, "person")]
LOW_HAT = (22, 60, 38, 72, 0.8, "hardhat")
VEST = (22, 36, 38, 56, 0.8, "vest")  # upper body: y 34..58
BOTH = {"required": ["hardhat", "vest"]}
# A decision is a vote over the last second (60 % of the decided frames, the latest one included); the
# condition is dated from its first evidence, so starts come min_duration after it, as without a vote.
PPE = [
    ("no hard hat", {}, lambda t: (WORKER, [], ()), [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    ("wearing one", {}, lambda t: (WORKER, [HAT], ()), []),
    ("hat too low to count", {}, lambda t: (WORKER, [LOW_HAT], ()),
     [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    # a hat and a bare head on one head (the detector suppresses duplicates per class): the more
    # confident says what the head shows, whichever box fits the head better; a near tie shows nothing
    ("a weak bare head under a sure hat", {"violation_labels": ["head"]},
     lambda t: (WORKER, [HAT, WEAK_HEAD], ()), []),
    ("a sure bare head beside a weak hat", {"violation_labels": ["head"]},
     lambda t: (WORKER, [WEAK_HAT, HEAD] if t >= 2 else [HAT], ()),
     [("start", 1, 3.0, None), ("end", 1, 3.9, "shutdown")]),
    ("a hat and a bare head equally sure", {"violation_labels": ["head"]},
     lambda t: (WORKER, [HAT, HEAD] if t >= 2 else [HAT], ()), []),
    ("a hat and a bare head equally sure, no vest", {**BOTH, "violation_labels": ["head"]},
     lambda t: (WORKER, [HAT, HEAD], ()), [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    ("only inside its zone", {"zone": "right"}, lambda t: (WORKER, [], ()), []),
    ("takes the hat off, puts it back", {}, lambda t: (WORKER, [HAT] if t < 1 or t >= 2.5 else [], ()),
     [("start", 1, 2.0, None), ("end", 1, 2.8, "cleared")]),
    ("leaves the picture", {}, lambda t: (WORKER, [], ()) if t < 2 else ([], [], (1,) if t == 2 else ()),
     [("start", 1, 1.0, None), ("end", 1, 2.0, "track_lost")]),
    ("hat and vest required, vest worn", BOTH, lambda t: (WORKER, [HAT, VEST], ()), []),
    ("hat and vest required, no vest", BOTH, lambda t: (WORKER, [HAT], ()),
     [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    ("a vest on the head does not count", BOTH, lambda t: (WORKER, [HAT, (22, 10, 38, 30, 0.8, "vest")], ()),
     [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    # evidence before absence: with a violation label, a hat merely not found is no evidence
    ("a missed hat is not a bare head", {"violation_labels": ["head"]}, lambda t: (WORKER, [], ()), []),
    ("a bare head seen", {"violation_labels": ["head"]}, lambda t: (WORKER, [HEAD], ()),
     [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    ("a flickering bare head is outvoted", {"violation_labels": ["head"]},
     lambda t: (WORKER, [HEAD] if round(t * 10) % 3 == 0 else [HAT], ()), []),
    ("a bare head seen now and then on a head otherwise blank", {"violation_labels": ["head"]},
     lambda t: (WORKER, [WEAK_HEAD] if round(t * 10) % 4 == 0 else [], ()), []),
    ("a bare head seen every other frame", {"violation_labels": ["head"]},
     lambda t: (WORKER, [HEAD] if round(t * 10) % 2 == 0 else [], ()),
     [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    ("a head too small to judge", {"min_head_px": 20}, lambda t: (WORKER, [], ()), []),
    ("a head cut by the top of the frame", {},
     lambda t: ([(1, (20, 0, 40, 80), "person")], [], ()), []),
]  # fmt: skip


@pytest.mark.parametrize(("what", "rule", "who", "expected"), PPE, ids=[c[0] for c in PPE])
def test_ppe(what: str, rule: dict[str, Any], who: Any, expected: list[Any]) -> None:
    cfg = {"zones": ZONE, "rules": [{"name": "hat", "kind": "ppe", "violation_labels": [], **TIMING, **rule}]}
    assert seq(run(cfg, scene(4, 10, who))) == expected


# --- overlapping workers: each item or bare head belongs to one person ------------------------------------

FRONT: Box = (40, 20, 80, 180)  # nearer the camera: its box ends lower; head region y 20..68
BEHIND: Box = (52, 22, 84, 140)  # further back; its head lies inside FRONT's head region too
FRONT_HAT = (46, 14, 72, 32, 0.8, "hardhat")
BEHIND_HEAD = (60, 22, 78, 40, 0.8, "head")
FRONT_HEAD = (48, 20, 66, 38, 0.8, "head")
BESIDE: Box = (60, 20, 100, 180)  # as near as FRONT, half overlapping it
SHARED_HAT = (56, 20, 80, 34, 0.8, "hardhat")  # inside both head regions, nearer FRONT's middle
PAIR = [(1, FRONT, "person"), (2, BEHIND, "person")]
OVERLAP = [
    ("the bare head behind counts for its owner only", {"violation_labels": ["head"]},
     lambda t: (PAIR, [FRONT_HAT, BEHIND_HEAD], ()), [("start", 2, 1.0, None), ("end", 2, 3.9, "shutdown")]),
    ("two bare heads, one each", {"violation_labels": ["head"]},
     lambda t: (PAIR, [FRONT_HEAD, BEHIND_HEAD], ()),
     [("start", 1, 1.0, None), ("start", 2, 1.0, None),
      ("end", 1, 3.9, "shutdown"), ("end", 2, 3.9, "shutdown")]),
    ("one hat cannot cover two heads side by side", {},
     lambda t: ([(1, FRONT, "person"), (3, BESIDE, "person")], [SHARED_HAT], ()),
     [("start", 3, 1.0, None), ("end", 3, 3.9, "shutdown")]),
    ("a head hidden behind a nearer worker is not a missing hat", {},
     lambda t: (PAIR, [FRONT_HAT], ()), []),
    ("a weak bare head under the front hat: outweighed, not counted behind", {"violation_labels": ["head"]},
     lambda t: (PAIR, [FRONT_HAT, (*FRONT_HEAD[:4], 0.3, "head"), BEHIND_HEAD], ()),
     [("start", 2, 1.0, None), ("end", 2, 3.9, "shutdown")]),
]  # fmt: skip


NO_HAT, HAT_ON, UNSURE = Decision("no", 0.9, 3), Decision("yes", 0.8, 4), Decision(None, 0.0, 2)
BY_ATTRIBUTE = {"required": [], "attributes": {"hardhat": "yes"}}
AS_WELL = {"attributes": {"hardhat": "yes"}}
PPE_BY_ATTRIBUTE = [
    ("decided: no hard hat", BY_ATTRIBUTE, [], lambda t: {1: {"hardhat": NO_HAT}},
     [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    ("decided: wearing one", BY_ATTRIBUTE, [], lambda t: {1: {"hardhat": HAT_ON}}, []),
    ("undecided is no alert yet", BY_ATTRIBUTE, [], lambda t: {1: {"hardhat": UNSURE}}, []),
    ("not looked at yet", BY_ATTRIBUTE, [], lambda t: {}, []),
    ("decided after two seconds", BY_ATTRIBUTE, [], lambda t: {1: {"hardhat": NO_HAT if t >= 2 else UNSURE}},
     [("start", 1, 3.0, None), ("end", 1, 3.9, "shutdown")]),
    ("puts it back on", BY_ATTRIBUTE, [], lambda t: {1: {"hardhat": NO_HAT if t < 2.5 else HAT_ON}},
     [("start", 1, 1.0, None), ("end", 1, 2.8, "cleared")]),
    ("as well as an item: a hat detected but the classifier says no", AS_WELL, [HAT],
     lambda t: {1: {"hardhat": NO_HAT}}, [("start", 1, 1.0, None), ("end", 1, 3.9, "shutdown")]),
    ("as well as an item: a hat detected, the classifier undecided", AS_WELL, [HAT],
     lambda t: {1: {"hardhat": UNSURE}}, []),
    ("as well as an item: both say yes", AS_WELL, [HAT], lambda t: {1: {"hardhat": HAT_ON}}, []),
    ("another track's decision is not this one's", BY_ATTRIBUTE, [], lambda t: {2: {"hardhat": NO_HAT}}, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "rule", "items", "decided", "expected"), PPE_BY_ATTRIBUTE, ids=[c[0] for c in PPE_BY_ATTRIBUTE]
)
def test_ppe_by_attribute(
    what: str, rule: dict[str, Any], items: list[Any], decided: Any, expected: list[Any]
) -> None:
    cfg = {"rules": [{"name": "hat", "kind": "ppe", "violation_labels": [], **TIMING, **rule}]}
    assert seq(run(cfg, scene(4, 10, lambda t: (WORKER, items, ())), decided)) == expected


def test_the_attribute_and_its_confidence_go_into_the_events() -> None:
    cfg = {"rules": [{"name": "hat", "kind": "ppe", **TIMING, **BY_ATTRIBUTE}]}
    events = run(cfg, scene(2, 10, lambda t: (WORKER, [], ())), lambda t: {1: {"hardhat": NO_HAT}})
    start = events[0].to_dict()  # run() validated every event against the published schema
    assert start["type"] == "start"
    assert start["attributes"] == {"hardhat": {"value": "no", "confidence": 0.9, "looks": 3}}
    plain = run(
        {"rules": [{"name": "hat", "kind": "ppe", **TIMING}]}, scene(2, 10, lambda t: (WORKER, [], ()))
    )
    assert plain[0].to_dict()["attributes"] is None


@pytest.mark.parametrize(("what", "rule", "who", "expected"), OVERLAP, ids=[c[0] for c in OVERLAP])
def test_ppe_with_overlapping_workers(what: str, rule: dict[str, Any], who: Any, expected: list[Any]) -> None:
    cfg = {"rules": [{"name": "hat", "kind": "ppe", "violation_labels": [], **TIMING, **rule}]}
    assert sorted(seq(run(cfg, scene(4, 10, who))), key=lambda e: (e[2], e[1])) == expected


def test_association_gives_each_item_to_at_most_one_person() -> None:
    from sitewatch.daemon.geometry import body_regions
    from sitewatch.daemon.rules.association import associate, rivals

    people = np.array([FRONT, BEHIND], np.float32)
    heads = body_regions(people, 0.3)["head"]
    items = np.array([FRONT_HAT[:4], BEHIND_HEAD[:4], (0, 0, 5, 5)], np.float32)
    owners = associate(heads, items, 0.5, one_per_person=True, top_aligned=True)
    assert owners.tolist() == [0, 1, -1]
    # two candidates for one head: one-per-person keeps the better fitting one only
    two = np.array([FRONT_HEAD[:4], (50, 30, 70, 50)], np.float32)
    owners = associate(heads[:1], two, 0.5, one_per_person=True, top_aligned=True)
    assert owners.tolist() == [0, -1]
    # ... and the one left over is named as a rival on the head it fits best, for the rule to weigh
    assert rivals(heads[:1], two, owners, 0.5, top_aligned=True).tolist() == [-1, 0]
    # items in nobody's region are nobody's rivals; assigned items are nobody's rivals either
    three = np.array([FRONT_HAT[:4], FRONT_HEAD[:4], BEHIND_HEAD[:4], (0, 0, 5, 5)], np.float32)
    owners = associate(heads, three, 0.5, one_per_person=True, top_aligned=True)
    assert sorted(owners[owners >= 0].tolist()) == [0, 1]
    assert owners[3] == -1
    rival = rivals(heads, three, owners, 0.5, top_aligned=True)
    assert (rival[owners >= 0] == -1).all() and rival[3] == -1
    assert rival[:3][owners[:3] < 0].tolist() == [0]  # the third head item competes for FRONT's head


# --- stationary objects and background ------------------------------------------------------------------


def walk_in_then_stand(stop: float) -> Any:
    """A worker without a hat walks in from the left and stands still from ``stop`` seconds on."""
    return lambda t: ([(1, at(min(t, stop) * 40), "person")], [], ())


STILL_RULES = [
    {"name": "hat", "kind": "ppe", "violation_labels": [], **TIMING},
    {"name": "in", "kind": "zone_intrusion", "zone": "all", **TIMING},
]
EVERYWHERE = {"all": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}


def test_a_static_false_person_from_the_first_frame_never_alerts() -> None:
    """A shape taken for a hatless worker, there and motionless from the first frame, is background:
    neither PPE nor the zone rule alerts on it (Frigate's stationary objects do not alert either)."""
    events = run({"background_at_start": True, "zones": EVERYWHERE, "rules": STILL_RULES},
                 scene(8, 10, lambda t: (WORKER, [], ())))  # fmt: skip
    assert events == []
    # without background handling both report it for the whole clip
    events = run({"zones": EVERYWHERE, "rules": STILL_RULES}, scene(8, 10, lambda t: (WORKER, [], ())))
    assert sorted((e.rule.name, e.type, e.reason) for e in events) == [
        ("hat", "end", "shutdown"), ("hat", "start", None), ("in", "end", "shutdown"), ("in", "start", None)
    ]  # fmt: skip


def cone_found_on_and_off(t: float) -> tuple[list[tuple[int, Box, str]], list[Any], tuple[int, ...]]:
    """A traffic cone taken for a person from 3 s on, found for 3 s, missed for 3 s (its track is
    removed), found again under a new track id (the second time only its top third is boxed), and so
    on; a worker walks through its spot from 12 s."""
    rows: list[tuple[int, Box, str]] = []
    cycle, phase = divmod(t - 3.0, 6.0)
    if t >= 3.0 and phase < 3.0:  # boxed whole, then only its top third, then whole again
        rows.append((10 + int(cycle), (100, 10, 120, 38) if cycle == 1 else at(100), "person"))
    removed = (10 + int(cycle),) if t >= 3.0 and abs(phase - 3.0) < 0.05 else ()
    if t >= 12.0:
        rows.append((50, at(40 + (t - 12.0) * 30), "person"))
    return rows, [], removed


def test_a_static_shape_found_again_and_again_alerts_once() -> None:
    """A static shape first found mid-stream is not background, so its first track alerts; once that
    track has ended without ever moving, its place is a static spot, and every later track standing
    there without a move is background: no new alerts. A worker passing through the spot alerts."""
    rule = [{"name": "in", "kind": "zone_intrusion", "zone": "all", **TIMING}]
    events = run(
        {"background_at_start": True, "zones": EVERYWHERE, "rules": rule},
        scene(18, 10, cone_found_on_and_off),
    )
    starts = [(e.track_id, round(e.frame_ts, 1)) for e in events if e.type == "start"]
    assert starts == [(10, 4.0), (50, 13.0)]
    # without static spots each re-detection alerts anew
    events = run({"zones": EVERYWHERE, "rules": rule}, scene(18, 10, cone_found_on_and_off))
    assert [e.track_id for e in events if e.type == "start"] == [10, 11, 50, 12]


def cone_found_weakly_first(t: float) -> tuple[list[tuple[int, Box, str]], list[Any], tuple[int, ...]]:
    """A traffic cone taken for a person at scores too low to start a track from 3 s on (found in every
    other frame, no track); from 8 s a stronger detection confirms a track on it. A worker walks in from
    the left, found weakly (no track) for his first 2 s, then tracked."""
    rows: list[tuple[int, Box, str]] = []
    dets: list[Any] = []
    if 3.0 <= t < 8.0 and round(t * 10) % 2 == 0:
        dets.append((*at(140), 0.3, "person"))
    if t >= 8.0:
        rows.append((10, at(140), "person"))
    worker = at((t - 10.0) * 30)
    if 10.0 <= t < 12.0:
        dets.append((*worker, 0.3, "person"))
    elif t >= 12.0:
        rows.append((20, worker, "person"))
    return rows, dets, ()


def test_a_static_shape_found_weakly_before_its_track_is_background() -> None:
    """A shape a detector finds on and off, motionless, without a track leaves a static spot: the track a
    stronger detection confirms on it later is background. A worker found weakly while walking in leaves
    no spot: his track alerts."""
    rules = [{"name": "in", "kind": "zone_intrusion", "zone": "all", **TIMING}]
    camera = {"background_at_start": True, "zones": EVERYWHERE, "rules": rules}
    events = run(camera, scene(16, 10, cone_found_weakly_first))
    assert [(e.track_id, round(e.frame_ts, 1)) for e in events if e.type == "start"] == [(20, 13.0)]
    # only seen as a track, the cone is a static shape first found mid-stream: it alerts
    tracked_only = [
        (ts, trk, Detections.from_rows([]), rm) for ts, trk, _, rm in scene(16, 10, cone_found_weakly_first)
    ]
    events = run(camera, tracked_only)
    assert [(e.track_id, round(e.frame_ts, 1)) for e in events if e.type == "start"] == [
        (10, 9.0),
        (20, 13.0),
    ]


def test_a_shape_found_weakly_for_an_hour_is_remembered_once() -> None:
    """Each second of weak detections would make the same spot again; it is kept once, so a static shape
    found weakly all day does not crowd the other spots out of the camera's memory."""
    from sitewatch.daemon.rules.motion import Motion

    motion = Motion(60.0)
    cone = Detections.from_rows([(*at(140), 0.3, "person")])
    for k in range(3600 * 5):  # an hour at 5 fps
        motion.update(k / 5, tracks(), (), cone)
    assert len(motion._spots) == 1


def test_background_that_starts_moving_is_watched_again() -> None:
    who = lambda t: ([(1, at(20 if t < 3 else 20 + (t - 3) * 40), "person")], [], ())  # noqa: E731
    events = run({"background_at_start": True, "zones": EVERYWHERE, "rules": STILL_RULES}, scene(6, 10, who))
    starts = sorted((e.rule.name, round(e.frame_ts, 1)) for e in events if e.type == "start")
    # it has moved a quarter of its height (20 px at 40 px/s) at 3.6 s; min_duration later PPE alerts
    assert starts == [("hat", 4.6), ("in", 4.6)]


def test_a_worker_who_walks_in_and_stands_still_alerts_until_stationary() -> None:
    cam = {"stationary_seconds": 3.0, "zones": EVERYWHERE, "rules": STILL_RULES}
    events = run(cam, scene(10, 10, walk_in_then_stand(2.0)))
    by_rule = {r: [(e.type, round(e.frame_ts, 1), e.reason) for e in events if e.rule.name == r]
               for r in ("hat", "in")}  # fmt: skip
    # PPE ignores stationary people: its alert ends once the worker has not moved a quarter of its
    # height for 3 s (its last such move was at 1.6 s). It starts 0.1 s after the zone alert: in the
    # first frame the head is cut by the frame's left edge.
    assert by_rule["hat"] == [("start", 1.1, None), ("end", 5.1, "cleared")]
    # the zone rule does not: the worker is still in the zone at the end
    assert by_rule["in"] == [("start", 1.0, None), ("end", 9.9, "shutdown")]


# --- zones: intrusion, dwell, crowd ----------------------------------------------------------------------


def test_zone_intrusion_starts_after_min_duration_and_ends_when_clear() -> None:
    walk = scene(6, 10, lambda t: ([(3, at(10 + 30 * t), "person")], [], ()))  # feet cross x=100 at t=2.67
    rule = {"name": "keep-out", "kind": "zone_intrusion", "zone": "right", **TIMING}
    events = run({"zones": ZONE, "rules": [rule]}, walk)
    assert seq(events) == [("start", 3, 3.7, None), ("end", 3, 5.9, "shutdown")]
    assert events[0].zone == "right" and events[0].started_at == pytest.approx(2.7)


def test_zone_intrusion_ignores_other_labels() -> None:
    rule = {"name": "keep-out", "kind": "zone_intrusion", "zone": "right", "labels": ["forklift"], **TIMING}
    assert (
        run({"zones": ZONE, "rules": [rule]}, scene(3, 10, lambda t: ([(1, at(150), "person")], [], ())))
        == []
    )


@pytest.mark.parametrize(
    ("stay", "expected"), [(4.0, []), (7.0, [("start", 1, 5.0, None), ("end", 1, 7.3, "cleared")])]
)
def test_dwell_alerts_only_past_max_seconds(stay: float, expected: list[Any]) -> None:
    who = lambda t: ([(1, at(150), "person")], [], ()) if t < stay else ([], [], ())  # noqa: E731
    rule = {"name": "loiter", "kind": "dwell", "zone": "right", "max_seconds": 5.0, "clear_after": 0.3}
    assert seq(run({"zones": ZONE, "rules": [rule]}, scene(9, 10, who))) == expected


def test_crowd_counts_people_in_the_zone_as_one_alert() -> None:
    def who(t: float) -> Any:
        n = 3 if 1 <= t < 4 else 2  # a third person joins for 3 s
        return [(i + 1, at(110 + 25 * i), "person") for i in range(n)] + [(9, at(5), "person")], [], ()

    rule = {"name": "crowded", "kind": "crowd", "zone": "right", "min_count": 3, **TIMING}
    events = run({"zones": ZONE, "rules": [rule]}, scene(6, 10, who))
    assert seq(events) == [("start", None, 2.0, None), ("end", None, 4.3, "cleared")]
    assert events[0].count == 3 and events[0].bbox is not None
    assert events[0].bbox.xyxy[0] == 110 and events[0].bbox.xyxy[2] == 180  # the union of the three


# --- lines ---------------------------------------------------------------------------------------------

LINE = {"door": {"points": [[0.5, 0.0], [0.5, 1.0]]}}  # upright, at x = 100 of 200


def crossings(
    direction: str, xs: list[float], cooldown: float = 0.0, lines: dict[str, Any] = LINE
) -> list[Event]:
    rule = {
        "name": "count",
        "kind": "line_crossing",
        "line": "door",
        "direction": direction,
        "cooldown": cooldown,
    }
    frames = [(i / 10, tracks((7, at(x - 10), "person")), Detections.empty(), ()) for i, x in enumerate(xs)]
    return run({"lines": lines, "rules": [rule]}, frames)


def ways(events: list[Event]) -> list[str]:
    return [e.line["direction"] for e in events if e.type == "start" and e.line]


def test_each_crossing_is_one_event_with_running_counts() -> None:
    events = crossings("both", [80, 90, 110, 120, 130, 95, 90])  # right on screen, then back left
    assert [(e.type, e.reason, e.line["direction"] if e.line else None) for e in events] == [
        ("start", None, "left_to_right"),
        ("end", "crossed", "left_to_right"),
        ("start", None, "right_to_left"),
        ("end", "crossed", "right_to_left"),
    ]
    counts = {"left_to_right": 1, "right_to_left": 1}
    assert events[-1].line == {
        "name": "door",
        "direction": "right_to_left",
        "counts": counts,
        "suppressed": 0,
    }
    assert events[0].duration_s == 0


WALKS = [
    # (line points, inside, feet positions as (x, y) per frame, expected directions)
    ([[0.5, 0.0], [0.5, 1.0]], None, [(80, 90), (120, 90)], ["left_to_right"]),
    ([[0.5, 1.0], [0.5, 0.0]], None, [(80, 90), (120, 90)], ["left_to_right"]),  # points swapped: same
    ([[0.5, 0.0], [0.5, 1.0]], None, [(120, 90), (80, 90)], ["right_to_left"]),
    ([[0.5, 0.0], [0.5, 1.0]], "right", [(80, 90), (120, 90), (80, 90)], ["in", "out"]),
    ([[0.5, 1.0], [0.5, 0.0]], "left", [(80, 90), (120, 90), (80, 90)], ["out", "in"]),
    ([[0.0, 0.5], [1.0, 0.5]], None, [(100, 30), (100, 70)], ["top_to_bottom"]),
    ([[1.0, 0.5], [0.0, 0.5]], None, [(100, 70), (100, 30)], ["bottom_to_top"]),
    ([[0.0, 0.5], [1.0, 0.5]], "above", [(100, 30), (100, 70), (100, 30)], ["out", "in"]),
    ([[0.2, 0.0], [0.7, 1.0]], None, [(40, 50), (140, 50)], ["left_to_right"]),  # slanted, upright
]


@pytest.mark.parametrize(("points", "inside", "feet", "expected"), WALKS)
def test_a_worker_walking_both_ways_is_named_as_seen_on_screen(
    points: list[list[float]], inside: str | None, feet: list[tuple[float, float]], expected: list[str]
) -> None:
    line: dict[str, Any] = {"points": points} | ({"inside": inside} if inside else {})
    rule = {"name": "count", "kind": "line_crossing", "line": "door", "cooldown": 0.0}
    boxes = [(x - 10, y - 40, x + 10, y) for x, y in feet]  # feet (bottom centre) at (x, y)
    frames = [(i / 10, tracks((7, box, "person")), Detections.empty(), ()) for i, box in enumerate(boxes)]
    assert ways(run({"lines": {"door": line}, "rules": [rule]}, frames)) == expected


def test_direction_filter_counts_both_ways_but_alerts_one() -> None:
    events = crossings("right_to_left", [80, 120, 80, 120])
    assert ways(events) == ["right_to_left"]  # only the way back alerts
    assert events[-1].line is not None and events[-1].line["counts"] == {
        "left_to_right": 1,
        "right_to_left": 1,
    }


def test_cooldown_suppresses_notifications_not_counts() -> None:
    """A worker dithering on the gate: four crossings counted, one notified, three suppressed."""
    events = crossings("both", [80, 120, 80, 120, 80], cooldown=5.0)
    starts = [e for e in events if e.type == "start"]
    assert len(starts) == 1
    final = crossings("both", [80, 120, 80, 120, 80, 80, 80] + [80] * 50 + [120], cooldown=5.0)
    last = [e for e in final if e.type == "start"][-1].line
    assert last is not None
    assert last["counts"] == {"left_to_right": 3, "right_to_left": 2}
    assert last["suppressed"] == 3  # 5 crossings = 2 notified + 3 suppressed


def test_a_direction_the_line_does_not_have_is_a_config_error(tmp_path: Path) -> None:
    script = tmp_path / "script.jsonl"
    script.write_text('{"labels": ["person"]}\n')
    (tmp_path / "x.mp4").write_bytes(b"")
    gate = {"points": [[0.5, 0], [0.5, 1]], "inside": "left"}
    rule = {"name": "c", "kind": "line_crossing", "line": "gate", "direction": "left_to_right"}
    cfg = {"name": "cam", "url": "x.mp4", "lines": {"gate": gate}, "rules": [rule]}
    with pytest.raises(ConfigError) as err:
        parse_config({"model": {"backend": "scripted", "path": str(script)}, "cameras": [cfg]}, tmp_path)
    assert any("direction: line 'gate' is crossed 'in' or 'out' (or 'both')" in p for p in err.value.problems)


def test_inside_must_be_a_side_the_line_has() -> None:
    with pytest.raises(ValueError, match="its sides are 'above' or 'below'"):
        LineConfig.model_validate({"points": [[0, 0.5], [1, 0.5]], "inside": "left"})


def test_stepping_onto_the_line_then_over_it_is_one_crossing() -> None:
    events = crossings("both", [90, 95, 100, 100, 105, 110])  # feet exactly on x = 100 twice
    assert [e.type for e in events] == ["start", "end"]


def test_passing_beyond_the_end_of_the_line_is_no_crossing() -> None:
    short = {"door": {"points": [[0.5, 0.0], [0.5, 0.3]]}}  # ends above the feet (y = 90 of 100)
    rule = {"name": "count", "kind": "line_crossing", "line": "door"}
    frames = [
        (i / 10, tracks((7, at(x), "person")), Detections.empty(), ()) for i, x in enumerate([70, 90, 110])
    ]
    assert run({"lines": short, "rules": [rule]}, frames) == []


def test_line_state_is_dropped_for_removed_tracks() -> None:
    rule = {"name": "c", "kind": "line_crossing", "line": "door"}
    cam = CameraConfig.model_validate({"name": "cam", "url": "x.mp4", "lines": LINE, "rules": [rule]})
    engine = build_engine(cam, model="m", snapshots=False)
    for i in range(500):  # a new person every frame, each seen once then removed
        engine.process(
            Frame("cam", i, i / 10, IMAGE), Detections.empty(), tracks((i + 1, at(50), "person")), (i,)
        )
    assert len(engine.rules[0]._last) <= 2  # type: ignore[attr-defined]


# --- update events -------------------------------------------------------------------------------------


def test_updates_while_active_at_most_every_interval() -> None:
    rule = {"name": "in", "kind": "zone_intrusion", "zone": "all", "update_interval": 1.0, **TIMING}
    everywhere = {"all": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}
    events = run(
        {"zones": everywhere, "rules": [rule]}, scene(4.5, 10, lambda t: ([(1, PERSON, "person")], [], ()))
    )
    assert seq(events) == [
        ("start", 1, 1.0, None),
        ("update", 1, 2.0, None),
        ("update", 1, 3.0, None),
        ("update", 1, 4.0, None),
        ("end", 1, 4.4, "shutdown"),
    ]
    assert len({e.alert_id for e in events}) == 1 and len({e.event_id for e in events}) == 5


# --- properties over random streams ----------------------------------------------------------------------

Stream = list[tuple[float, list[tuple[int, bool, bool]], tuple[int, ...]]]


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    """Up to 4 tracks blinking in and out of a zone, with and without hats, at uneven frame times
    (dropped frames); tracks end for good at random (and, as from a tracker, ids never come back)."""
    n = draw(st.integers(5, 120))
    ts = 0.0
    out: Stream = []
    alive = {1, 2, 3, 4}
    for _ in range(n):
        ts += draw(st.sampled_from([0.04, 0.1, 0.2, 0.5]))
        present, removed = [], []
        for tid in sorted(alive):
            if draw(st.integers(0, 30)) == 0:
                alive.discard(tid)
                removed.append(tid)
            elif draw(st.booleans()) or draw(st.booleans()):
                present.append((tid, draw(st.booleans()), draw(st.booleans())))  # (id, in zone, hat)
        out.append((round(ts, 3), present, tuple(removed)))
    return out


def replay_stream(stream: Stream, timing: dict[str, float]) -> list[Event]:
    rules = [
        {"name": "hat", "kind": "ppe", **timing},
        {"name": "keep-out", "kind": "zone_intrusion", "zone": "right", **timing},
    ]
    frames = []
    for ts, present, removed in stream:
        rows = [(tid, at(150 if zone else 20), "person") for tid, zone, _ in present]
        hats = [(x1 + 2, 8, x1 + 18, 20, 0.8, "hardhat") for tid, zone, hat in present if hat
                for x1 in [150 if zone else 20]]  # fmt: skip
        frames.append((ts, tracks(*rows), Detections.from_rows(hats), removed))
    return run({"zones": ZONE, "rules": rules}, frames)


@settings(max_examples=100, deadline=None)
@given(
    stream=streams(),
    min_duration=st.sampled_from([0.0, 0.3, 1.0]),
    clear=st.sampled_from([0.0, 0.25, 1.0]),
    cooldown=st.sampled_from([0.0, 0.5, 3.0]),
)
def test_alert_invariants_hold_for_any_stream(
    stream: Stream, min_duration: float, clear: float, cooldown: float
) -> None:
    timing = {"min_duration": min_duration, "clear_after": clear, "cooldown": cooldown}
    events = replay_stream(stream, timing)
    starts = [e for e in events if e.type == "start"]
    ends = {e.alert_id: e for e in events if e.type == "end"}
    assert len(ends) == len([e for e in events if e.type == "end"])  # at most one end per alert
    assert {e.alert_id for e in starts} == set(ends)  # every start has exactly one end
    for s in starts:
        end = ends[s.alert_id]
        assert s.frame_ts - s.started_at >= min_duration - 1e-6  # never before min_duration
        assert end.started_at == s.started_at and end.ended_at is not None
        assert end.duration_s == pytest.approx(end.ended_at - end.started_at, abs=1e-3)
        assert end.frame_ts >= s.frame_ts
    by_subject: dict[tuple[str, int | None], list[Event]] = {}
    for e in events:
        if e.type in ("start", "end"):
            by_subject.setdefault((e.rule.name, e.track_id), []).append(e)
    for seq_ in by_subject.values():
        for prev, nxt in pairwise(seq_):
            if prev.type == "end" and nxt.type == "start" and prev.reason == "cleared":
                assert nxt.frame_ts - prev.frame_ts >= cooldown - 1e-6  # cooldown respected
    # every event matches the published schema: run() validates each one


# --- frame-rate independence -----------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [5, 15, 30])
def test_same_scene_same_events_at_any_frame_rate(fps: int) -> None:
    """A worker without a hard hat is in the zone from 1 s to 4 s: the alert starts after 1 s and ends
    0.5 s after they leave, within one frame interval, whatever the frame rate."""
    who = lambda t: ([(1, at(150), "person")], [], ()) if 1.0 <= t < 4.0 else ([], [], ())  # noqa: E731
    rules = [
        {"name": "hat", "kind": "ppe", "zone": "right", "min_duration": 1.0, "clear_after": 0.5},
        {
            "name": "keep-out",
            "kind": "zone_intrusion",
            "zone": "right",
            "min_duration": 1.0,
            "clear_after": 0.5,
        },
    ]
    events = run({"zones": ZONE, "rules": rules}, scene(6, fps, who))
    for rule in ("hat", "keep-out"):
        (start,) = [e for e in events if e.rule.name == rule and e.type == "start"]
        (end,) = [e for e in events if e.rule.name == rule and e.type == "end"]
        assert start.frame_ts == pytest.approx(2.0, abs=1 / fps + 1e-6)
        assert end.frame_ts == pytest.approx(4.5, abs=1 / fps + 1e-6)
        assert end.duration_s == pytest.approx(3.0, abs=1 / fps + 1e-3)
