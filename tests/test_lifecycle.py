"""The alert lifecycle, frame by frame: min_duration, clear_after, cooldown, track loss, shutdown."""

from __future__ import annotations

import pytest

from sitewatch.daemon.rules import Lifecycle, Subject, Timing

S = Subject(key=7, track_id=7, label="person", confidence=0.9, xyxy=(0, 0, 1, 1))


def run(
    timing: Timing, pattern: str, fps: float = 10, removed_at: int | None = None
) -> list[tuple[str, float]]:
    """Feed a pattern ('#' condition holds, '.' it does not, one character per frame) and return the
    transitions as (type, frame time)."""
    life = Lifecycle(timing)
    out = []
    for i, c in enumerate(pattern):
        ts = i / fps
        removed = [S.key] if removed_at == i else []
        holding = {S.key: S} if c == "#" and removed_at != i else {}
        out += [(t.type, round(t.ts, 3)) for t in life.step(ts, holding, removed)]
    return out


T = Timing(min_duration=0.3, clear_after=0.2, cooldown=1.0)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("....", []),
        ("###.....", []),  # 0.2 s < min_duration
        ("####.....", [("start", 0.3), ("end", 0.6)]),  # ends once false for more than clear_after
        ("####.#####....", [("start", 0.3), ("end", 1.2)]),  # a one-frame gap does not split it
        ("####...####....", [("start", 0.3), ("end", 0.6)]),  # a second stretch inside the cooldown
        ("####......." + "." * 10 + "####....", [("start", 0.3), ("end", 0.6), ("start", 2.4), ("end", 2.7)]),
        ("##.##.##", [("start", 0.3)]),  # gaps shorter than clear_after keep it pending
        ("#...####", [("start", 0.7)]),  # a long gap restarts the min_duration clock
    ],
    ids=["never", "too-short", "simple", "flicker", "cooldown", "after-cooldown", "gappy-start", "restart"],
)
def test_transitions(pattern: str, expected: list[tuple[str, float]]) -> None:
    assert run(T, pattern) == expected


def test_zero_min_duration_starts_on_the_first_frame() -> None:
    assert run(Timing(0.0, 0.0, 0.0), "##..##.") == [
        ("start", 0.0),
        ("end", 0.2),
        ("start", 0.4),
        ("end", 0.6),
    ]


def test_removed_track_ends_its_alert_as_track_lost() -> None:
    life = Lifecycle(T)
    for i in range(5):
        life.step(i / 10, {S.key: S})
    (end,) = life.step(0.5, {}, removed=[S.key])
    assert end.type == "end" and end.reason == "track_lost"
    assert end.started_at == 0.0 and end.ended_at == pytest.approx(0.4)
    assert len(life) == 0


def test_close_ends_every_active_alert_once() -> None:
    life = Lifecycle(T)
    other = Subject(8, 8, "person", 0.5, None)
    for i in range(5):
        life.step(i / 10, {S.key: S, other.key: other})
    ends = life.close(0.5)
    assert sorted(e.subject.key for e in ends) == [7, 8]  # type: ignore[type-var]
    assert {e.reason for e in ends} == {"shutdown"}
    assert life.close(0.6) == []


@pytest.mark.parametrize("fps", [5, 15, 30])
def test_timing_is_in_seconds_not_frames(fps: int) -> None:
    seconds_on, seconds_off = 2.0, 1.0
    pattern = "#" * int(seconds_on * fps) + "." * int(seconds_off * fps)
    events = run(Timing(1.0, 0.5, 5.0), pattern, fps=fps)
    assert [e[0] for e in events] == ["start", "end"]
    assert events[0][1] == pytest.approx(1.0, abs=1 / fps)
    assert events[1][1] == pytest.approx(seconds_on + 0.5, abs=1 / fps + 1e-9)


def test_state_is_dropped_for_subjects_that_leave() -> None:
    life = Lifecycle(Timing(1.0, 0.2, 0.0))
    for i in range(1000):  # a new subject every frame, each seen once
        life.step(i / 10, {i: Subject(i, i, "person", 0.9, None)})
    assert len(life) <= 3
