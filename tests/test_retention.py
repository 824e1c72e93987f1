"""Retention: daily rotation of the logs, compression, and deletion by age and size, on a fake clock,
without ever touching the file being written; and in a running daemon, on its own thread."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest
from conftest import Site
from helpers import wait_until

from sitewatch.daemon.config import RetentionLimit
from sitewatch.daemon.linelog import LineLog
from sitewatch.daemon.retention import Target, sweep

DAY = 86400.0
T0 = 1_790_000_000.0  # 2026-09-21, a fixed "now"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _file(path: Path, size: int, age_days: float, now: float = T0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_a_log_starts_a_new_file_each_utc_day_and_keeps_every_line(tmp_path: Path) -> None:
    clock = Clock(T0)
    log = LineLog(tmp_path / "events.jsonl", rotate_daily=True, clock=clock)
    log.append(b"day1-a\n")
    log.append(b"day1-b\n")
    clock.now += DAY
    log.append(b"day2-a\n")
    clock.now += 3 * DAY  # a quiet weekend: the next line still goes to a file of its own day
    log.append(b"day5-a\n")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["events-2026-09-21.jsonl", "events-2026-09-22.jsonl", "events.jsonl"]
    assert (tmp_path / "events-2026-09-21.jsonl").read_bytes() == b"day1-a\nday1-b\n"
    assert (tmp_path / "events-2026-09-22.jsonl").read_bytes() == b"day2-a\n"
    assert (tmp_path / "events.jsonl").read_bytes() == b"day5-a\n"


def test_a_restart_on_a_later_day_rotates_yesterdays_file_first(tmp_path: Path) -> None:
    _file(tmp_path / "events.jsonl", 10, age_days=1.0)
    LineLog(tmp_path / "events.jsonl", rotate_daily=True, clock=Clock(T0)).append(b"today\n")
    assert (tmp_path / "events.jsonl").read_bytes() == b"today\n"
    assert (tmp_path / "events-2026-09-20.jsonl").stat().st_size == 10


def test_without_rotation_one_file_grows(tmp_path: Path) -> None:
    clock = Clock(T0)
    log = LineLog(tmp_path / "t.jsonl", clock=clock)
    log.append(b"a\n")
    clock.now += 2 * DAY
    log.append(b"b\n")
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]


def test_rotated_logs_are_compressed_then_deleted_by_age_and_the_current_one_never(tmp_path: Path) -> None:
    current = _file(tmp_path / "events.jsonl", 100, age_days=0)
    for age in (1, 2, 5, 9):
        day = f"2026-09-{21 - age:02d}"
        _file(tmp_path / f"events-{day}.jsonl", 1000, age_days=age)
    unrelated = _file(tmp_path / "notes-2026-09-01.jsonl", 10, age_days=30)  # not ours
    target = Target("events", tmp_path, RetentionLimit(max_days=4), logs_of=(current,))
    result = sweep([target], T0)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "events-2026-09-19.jsonl.gz", "events-2026-09-20.jsonl.gz", "events.jsonl", "notes-2026-09-01.jsonl"
    ]  # fmt: skip
    assert result.compressed == 4 and result.deleted_files["events"] == 2 and not result.errors
    with gzip.open(tmp_path / "events-2026-09-20.jsonl.gz") as gz:
        assert gz.read() == b"x" * 1000
    assert (tmp_path / "events-2026-09-20.jsonl.gz").stat().st_mtime == pytest.approx(T0 - DAY)  # age kept
    assert current.read_bytes() == b"x" * 100 and unrelated.exists()


def test_snapshots_are_deleted_oldest_first_until_under_the_size_limit(tmp_path: Path) -> None:
    mib = 1024 * 1024
    for i in range(6):  # 6 x 1 MiB, i days old
        _file(tmp_path / "cam" / f"alert-{i}.jpg", mib, age_days=i)
    fresh_tmp = _file(tmp_path / "cam" / "being-written.jpg.tmp", 10, age_days=0)
    stale_tmp = _file(tmp_path / "cam" / "crashed.jpg.tmp", 10, age_days=1)
    result = sweep([Target("snapshots", tmp_path, RetentionLimit(max_mb=3.5))], T0)
    left = sorted(p.name for p in (tmp_path / "cam").iterdir())
    assert left == ["alert-0.jpg", "alert-1.jpg", "alert-2.jpg", "being-written.jpg.tmp"]
    assert result.deleted_files["snapshots"] == 4  # three oldest and the stale temp file
    assert result.deleted_bytes["snapshots"] == 3 * mib + 10
    assert fresh_tmp.exists() and not stale_tmp.exists()


def test_clips_beside_snapshots_are_their_own_kind_with_their_own_limits(tmp_path: Path) -> None:
    mib = 1024 * 1024
    for i in range(4):
        _file(tmp_path / "cam" / f"alert-{i}.jpg", mib, age_days=i)
        _file(tmp_path / "cam" / f"alert-{i}.mp4", 2 * mib, age_days=i)
    limits = [
        Target("snapshots", tmp_path, RetentionLimit(max_days=30)),
        Target("clips", tmp_path, RetentionLimit(max_mb=4.5)),
    ]
    result = sweep(limits, T0)
    left = sorted(p.name for p in (tmp_path / "cam").iterdir())
    assert left == ["alert-0.jpg", "alert-0.mp4", "alert-1.jpg", "alert-1.mp4", "alert-2.jpg", "alert-3.jpg"]
    assert result.deleted_files == {"clips": 2}


def test_no_limits_delete_nothing(tmp_path: Path) -> None:
    old = _file(tmp_path / "a.jpg", 100, age_days=1000)
    assert sweep([Target("snapshots", tmp_path, RetentionLimit())], T0).deleted_files == {}
    assert old.exists()


def test_a_file_that_cannot_be_deleted_is_reported_and_the_rest_still_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = _file(tmp_path / "stuck.jpg", 10, age_days=10)
    other = _file(tmp_path / "other.jpg", 10, age_days=10)
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == stuck:
            raise PermissionError(13, "Permission denied")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    result = sweep([Target("snapshots", tmp_path, RetentionLimit(max_days=1))], T0)
    assert result.errors == [f"cannot delete {stuck}: Permission denied"]
    assert stuck.exists() and not other.exists()


def test_compressed_track_logs_replay_like_plain_ones(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    from sitewatch.daemon.cli import main

    for i in range(30):
        site.detect("cam", i, (40.0 + 2 * i, 20.0, 80.0 + 2 * i, 110.0, 0.9, "person"))
    video = site.video("cam", 30)
    rules = [{"name": "in", "kind": "zone_intrusion", "zone": "all", "min_duration": 0.5, "clear_after": 0.5}]
    zones = {"all": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}
    cams = [{"name": "cam", "url": str(video), "record_tracks": True, "rules": rules, "zones": zones}]
    config = site.config(cams, record_dir="tracks")
    assert site.run().rc == 0
    plain = site.root / "tracks" / "cam.jsonl"
    packed = site.root / "tracks" / "cam-2026-09-21.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    capsys.readouterr()
    outputs = []
    for log in (plain, packed):
        assert main(["replay", "--config", str(config), str(log)]) == 0
        outputs.append([json.loads(x)["type"] for x in capsys.readouterr().out.splitlines()])
    assert outputs[0] == outputs[1] and "start" in outputs[0]


def test_the_daemon_sweeps_at_start_on_its_own_thread_and_counts_what_it_deleted(site: Site) -> None:
    snapshots = site.root / "out" / "snapshots"
    old = _file(snapshots / "cam" / "old.jpg", 1000, age_days=40, now=time.time())
    keep = _file(snapshots / "cam" / "new.jpg", 1000, age_days=1, now=time.time())
    site.detect("cam", 0, (40.0, 20.0, 80.0, 110.0, 0.9, "person"))
    video = site.video("cam", 20)
    site.config(
        [{"name": "cam", "url": str(video)}],
        retention={"snapshots": {"max_days": 30}, "events": {"max_days": 30}},
    )
    from sitewatch.daemon.config import load_config
    from sitewatch.daemon.detectors import load_detector
    from sitewatch.daemon.pipeline import Pipeline

    config = load_config(site.root / "config.toml")
    pipeline = Pipeline(config, load_detector(config))
    pipeline.start()
    try:
        # the file goes first, then the sweep counts it: wait for the count, not only the file
        wait_until(lambda: pipeline.counts().retention_deleted_files != {}, timeout=10)
        assert not old.exists() and keep.exists()
        counts = pipeline.counts()
        assert counts.retention_deleted_files == {"snapshots": 1}
        assert counts.retention_deleted_bytes == {"snapshots": 1000}
    finally:
        pipeline.shutdown()


def test_track_logs_of_cameras_that_no_longer_record_are_retained_too(tmp_path: Path) -> None:
    current = _file(tmp_path / "gate.jsonl", 10, age_days=0)
    gone = _file(tmp_path / "old-yard-2026-08-01.jsonl.gz", 10, age_days=50)  # a removed camera's log
    recent = _file(tmp_path / "old-yard-2026-09-20.jsonl.gz", 10, age_days=1)
    foreign = _file(tmp_path / "notes.txt", 10, age_days=50)
    target = Target("tracks", tmp_path, RetentionLimit(max_days=3), logs_of=(current,), owns_directory=True)
    result = sweep([target], T0)
    assert not gone.exists() and recent.exists() and current.exists() and foreign.exists()
    assert result.deleted_files == {"tracks": 1}
