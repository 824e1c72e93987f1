"""Camera sharding across replicas: rendezvous hashing, where a replica learns its shard, what each
replica runs, and that replicas sharing one config and one broker keep out of each other's way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import (
    local_mqtt,
    make_video,
    read_events,
    start_daemon,
    terminate,
    to_toml,
    wait_until,
    write_script,
)
from mosquitto import Subscriber

from sitewatch.daemon.cli import main
from sitewatch.daemon.config import ConfigError, Shard, load_config
from sitewatch.daemon.sharding import assignment, owner, parse_shard, select, shard_from_environment
from sitewatch.sinks.homeassistant import slug

NAMES = [f"cam-{i:03d}" for i in range(400)]


def test_every_camera_has_exactly_one_owner_and_shards_are_even() -> None:
    for n in (1, 2, 3, 5, 8):
        table = assignment(NAMES, n)
        flat = [c for cams in table.values() for c in cams]
        assert sorted(flat) == sorted(NAMES)  # each camera exactly once
        sizes = [len(v) for v in table.values()]
        assert min(sizes) > 0.6 * len(NAMES) / n, sizes  # hashing spreads them
    assert all(owner(name, 1) == 0 for name in NAMES)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_adding_a_replica_moves_only_cameras_to_the_new_one(n: int) -> None:
    before = {c: owner(c, n) for c in NAMES}
    after = {c: owner(c, n + 1) for c in NAMES}
    moved = [c for c in NAMES if before[c] != after[c]]
    assert all(after[c] == n for c in moved), "a camera moved between old shards"
    share = len(moved) / len(NAMES)
    assert 0.5 / (n + 1) < share < 1.6 / (n + 1), share  # about 1/(n+1), not nearly all (modulo)
    # and back down: only the removed shard's cameras move
    assert all(before[c] == after[c] for c in NAMES if after[c] != n)


def test_the_assignment_is_the_same_in_every_process() -> None:
    """A fixed digest, not Python's per-process salted hash(): replicas agree on every owner."""
    code = f"from sitewatch.daemon.sharding import owner; print([owner(n, 5) for n in {NAMES[:50]!r}])"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }  # fmt: skip
    assert outs == {f"{[owner(n, 5) for n in NAMES[:50]]}\n"}


@pytest.mark.parametrize(
    ("text", "shard"), [("0/1", Shard(0, 1)), ("2/3", Shard(2, 3)), (" 1 / 4 ", Shard(1, 4))]
)
def test_shard_syntax(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard


@pytest.mark.parametrize(
    ("text", "why"),
    [("3/3", "0..N-1"), ("1/0", "0..N-1"), ("1", "not I/N"), ("a/b", "not I/N"), ("-1/2", "not I/N")],
)
def test_bad_shards_are_config_errors(text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        parse_shard(text)


def test_the_shard_comes_from_the_environment_or_a_statefulset_pod_name() -> None:
    assert shard_from_environment({}) is None
    assert shard_from_environment({"SITEWATCH_SHARD": "1/3"}) == Shard(1, 3)
    pod = {"POD_NAME": "sitewatch-2", "SITEWATCH_REPLICAS": "4"}
    assert shard_from_environment(pod) == Shard(2, 4)
    with pytest.raises(ConfigError, match="no StatefulSet ordinal"):
        shard_from_environment({"POD_NAME": "sitewatch", "SITEWATCH_REPLICAS": "4"})
    with pytest.raises(ConfigError, match=r"0\.\.N-1"):  # a pod beyond the replica count it was told
        shard_from_environment({"POD_NAME": "sitewatch-4", "SITEWATCH_REPLICAS": "4"})


def _fleet(root: Path, n: int) -> Path:
    """A config of ``n`` cameras (empty files: only check-config and the selection look at them)."""
    (root / "x.jsonl").write_text('{"labels": ["person"]}\n')
    cameras = []
    for i in range(n):
        (root / f"cam-{i}.mp4").write_bytes(b"")
        cameras.append(
            {"name": f"cam-{i}", "url": f"cam-{i}.mp4",
             "zones": {"all": {"points": [[0, 0], [1, 0], [1, 1]]}},
             "rules": [{"kind": "zone_intrusion", "name": "z", "zone": "all"}]}
        )  # fmt: skip
    config = root / "c.toml"
    config.write_text(to_toml({"model": {"backend": "scripted", "path": "x.jsonl"}, "cameras": cameras}))
    return config


def test_select_keeps_this_replicas_cameras_and_knows_the_fleet(tmp_path: Path) -> None:
    fleet = load_config(_fleet(tmp_path, 9))
    mine = [select(fleet, Shard(i, 3)) for i in range(3)]
    assert sorted(c.name for cfg in mine for c in cfg.cameras) == sorted(c.name for c in fleet.cameras)
    for i, cfg in enumerate(mine):
        assert cfg.replica.shard == Shard(i, 3)
        assert cfg.replica.fleet is fleet
        assert cfg.replica.host.endswith(f"-shard{i}")  # not a StatefulSet pod: the shard is added
    whole = select(fleet, None)
    assert whole.cameras == fleet.cameras and whole.replica.shard is None


def test_check_config_prints_the_assignment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _fleet(tmp_path, 6)
    assert main(["check-config", str(config), "--shard", "1/3"]) == 0
    out = capsys.readouterr().out
    table = assignment([f"cam-{i}" for i in range(6)], 3)
    for index, names in table.items():
        assert f"shard {index}/3: {len(names)} camera(s): {', '.join(names) or '-'}" in out
    assert "this replica: shard 1/3" in out
    assert f"cameras: {len(table[1])}" in out  # the summary is this replica's


def test_two_replicas_share_one_config_and_one_broker(tmp_path: Path) -> None:
    """Two replicas of one config on the local broker: each watches only its cameras, connects with its
    own client id and Last Will, publishes its cameras' states and discovery, and neither clears the
    other's retained topics (each listens to the prefix's retained topics at start to find stale ones)."""
    prefix = f"swtest/shards{time.monotonic_ns()}"
    names = ["gate", "crane", "scaffold-north", "yard"]
    table = assignment(names, 2)
    assert table[0] and table[1], table
    frames = 600  # a minute at 10 fps, played in real time: the replicas stay up while the test looks
    worker = [(40.0, 20.0, 80.0, 110.0, 0.9, "person")]  # in the zone from frame 3 on every camera
    script = write_script(
        tmp_path / "script.jsonl",
        {(n, f): worker for n in names for f in range(3, frames)},
        ["person", "hardhat", "head"],
    )
    video = make_video(tmp_path / "v.mp4", frames, 10)
    cfg = {
        "model": {"backend": "scripted", "path": str(script), "min_confidence": 0.1},
        "tracker": {"min_hits": 2, "max_lost_seconds": 1.0},
        "service": {"http_port": 0},
        "sinks": {
            "jsonl": {"path": "out/events.jsonl", "fsync": False},
            "mqtt": local_mqtt(prefix),  # one client id in the shared config
        },
        "cameras": [
            {"name": n, "url": str(video), "realtime": True, "background_at_start": False,
             "zones": {"all": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
             "rules": [{"kind": "zone_intrusion", "name": "intrusion", "zone": "all", "min_duration": 0.2}]}
            for n in names
        ],
    }  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text(to_toml(cfg))
    sub = Subscriber(1883, "#", client_id=f"sub-{slug(prefix)}")

    def latest() -> dict[str, bytes]:  # the retained state as a newcomer would see it
        with sub._lock:
            return {t: p for t, p, _ in sub.messages}

    procs = []
    try:
        for i in range(2):
            data = tmp_path / f"replica-{i}"
            data.mkdir()
            procs.append(start_daemon(config, "--shard", f"{i}/2", env={"STATE_DIRECTORY": str(data)}))
        node = slug(prefix)  # the fleet's Home Assistant node id: from the shared client id

        def settled() -> bool:
            retained = latest()
            return all(retained.get(f"{prefix}/{n}/rules/intrusion/state") == b"ON" for n in names) and all(
                retained.get(f"{prefix}/replicas/{i}/availability") == b"online" for i in range(2)
            )

        assert wait_until(settled, 40), sorted(latest())
        time.sleep(6)  # past both replicas' stale-topic window (5 s after connecting)
        retained = latest()
        for n in names:  # nobody cleared anybody: every camera's topics and discovery are there
            assert retained.get(f"{prefix}/{n}/rules/intrusion/state") == b"ON", n
            status = json.loads(retained[f"{prefix}/{n}/status"])
            owner_index = 0 if n in table[0] else 1
            assert status["host"].endswith(f"-shard{owner_index}"), status
            discovery = [t for t in retained if t.startswith("homeassistant/") and f"/{node}/" in t
                         and f"{slug(n)}_intrusion" in t and retained[t]]  # fmt: skip
            assert discovery, f"no discovery for {n}"
            config_json = json.loads(retained[discovery[0]])
            assert config_json["availability"][0]["topic"] == f"{prefix}/replicas/{owner_index}/availability"
        assert f"{prefix}/availability" not in retained  # sharded: per-replica availability only
    finally:
        outs = [terminate(p) for p in procs]
        time.sleep(0.5)
        sub.close()
    for i, out in enumerate(outs):
        assert "Traceback" not in out, out[-3000:]
        assert f"shard {i}/2" in out
        events = read_events(tmp_path / f"replica-{i}" / "out" / "events.jsonl")
        assert {e["camera"] for e in events} == set(table[i]), (i, Counter(e["camera"] for e in events))
        assert {e["host"] for e in events} and all(e["host"].endswith(f"-shard{i}") for e in events)
        # two replicas with one configured client id would have kicked each other off in a loop
        assert out.count("MQTT: connected") == 1, out[-3000:]
    retained = latest()
    for i in range(2):
        assert retained.get(f"{prefix}/replicas/{i}/availability") == b"offline"
