"""``[camera_defaults]``: settings and rules written once, inherited by every camera, overridden by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Site

from sitewatch.daemon.config import ConfigError, LineCrossingRuleConfig, PpeRuleConfig, parse_config
from sitewatch.daemon.rules import build_engine

HARDHAT = {"name": "hardhat", "kind": "ppe", "min_duration": 2.0}
RESTRICTED = {"name": "restricted", "kind": "zone_intrusion", "zone": "yard"}
YARD = {"points": [[0, 0], [1, 0], [1, 1]]}


def site_config(site: Site, defaults: dict[str, Any], *cameras: dict[str, Any]) -> dict[str, Any]:
    script = site.root / "script.jsonl"
    script.write_text('{"labels": ["person", "hardhat", "head"]}\n')
    video = site.video("cam", 3)
    return {
        "model": {"backend": "scripted", "path": str(script)},
        "camera_defaults": defaults,
        "cameras": [{"url": str(video), **cam} for cam in cameras],
    }


def test_twenty_cameras_inherit_one_hardhat_rule(site: Site) -> None:
    cameras = [{"name": f"cam{i:02d}"} for i in range(20)]
    cfg = parse_config(site_config(site, {"fps": 5, "rules": [HARDHAT]}, *cameras), Path("."))
    assert len(cfg.cameras) == 20
    for cam in cfg.cameras:
        assert cam.fps == 5
        assert [(r.name, r.kind) for r in cam.rules] == [("hardhat", "ppe")]
        rule = cam.rules[0]
        assert isinstance(rule, PpeRuleConfig) and rule.min_duration == 2.0 and rule.required == ["hardhat"]


OVERRIDES = [
    # (what the camera writes, what it ends up with: (fps, rule names, hardhat min_duration or None))
    ({}, (5.0, ["hardhat"], 2.0)),
    ({"fps": 12}, (12.0, ["hardhat"], 2.0)),
    ({"rules": [{"name": "hardhat", "min_duration": 4.0}]}, (5.0, ["hardhat"], 4.0)),
    ({"rules": [RESTRICTED], "zones": {"yard": YARD}}, (5.0, ["hardhat", "restricted"], 2.0)),
    (
        {"rules": [{**RESTRICTED, "name": "hardhat"}], "zones": {"yard": YARD}},
        (5.0, ["hardhat"], None),
    ),
]


@pytest.mark.parametrize(
    ("own", "expected"), OVERRIDES, ids=["inherit", "fps", "one key", "add", "other kind"]
)
def test_a_camera_overrides_what_it_sets_and_keeps_the_rest(
    site: Site, own: dict[str, Any], expected: tuple[float, list[str], float | None]
) -> None:
    cfg = parse_config(site_config(site, {"fps": 5, "rules": [HARDHAT]}, {"name": "cam", **own}), Path("."))
    cam = cfg.cameras[0]
    fps, names, min_duration = expected
    assert cam.fps == fps
    assert [r.name for r in cam.rules] == names
    first = cam.rules[0]
    if min_duration is None:
        assert first.kind == "zone_intrusion"
    else:
        assert isinstance(first, PpeRuleConfig) and first.min_duration == min_duration


def test_zones_and_lines_merge_by_name(site: Site) -> None:
    defaults = {
        "zones": {"yard": YARD},
        "lines": {"gate": {"points": [[0.5, 0], [0.5, 1]]}},
        "rules": [{"name": "count", "kind": "line_crossing", "line": "gate"}],
    }
    own = {"name": "cam", "lines": {"gate": {"points": [[0.2, 0], [0.2, 1]]}}, "zones": {"pit": YARD}}
    cam = parse_config(site_config(site, defaults, own), Path(".")).cameras[0]
    assert sorted(cam.zones) == ["pit", "yard"]
    assert cam.lines["gate"].points == [(0.2, 0.0), (0.2, 1.0)]
    assert isinstance(cam.rules[0], LineCrossingRuleConfig)


def test_a_camera_switches_off_a_default_rule(site: Site) -> None:
    raw = site_config(
        site,
        {"rules": [HARDHAT]},
        {"name": "a"},
        {"name": "b", "rules": [{"name": "hardhat", "enabled": False}]},
    )
    cfg = parse_config(raw, Path("."))
    engines = {c.name: build_engine(c, model="m", snapshots=False) for c in cfg.cameras}
    assert [r.enabled for r in engines["a"].rules] == [True]
    assert [r.enabled for r in engines["b"].rules] == [False]


BAD_DEFAULTS = [
    ({"url": "x.mp4"}, "camera_defaults.url: each camera sets its own url"),
    ({"fps": "fast"}, "camera_defaults.fps: Input should be a valid number"),
    ({"rules": [{"name": "r", "kind": "nope"}]}, "camera_defaults.rules[0].kind: unknown rule kind 'nope'"),
    ({"colour": 1}, "camera_defaults.colour: unknown key"),
]


@pytest.mark.parametrize(("defaults", "message"), BAD_DEFAULTS, ids=["url", "type", "kind", "unknown"])
def test_a_mistake_in_the_defaults_is_reported_once_under_its_own_key(
    site: Site, defaults: dict[str, Any], message: str
) -> None:
    raw = site_config(site, defaults, {"name": "a"}, {"name": "b"})
    with pytest.raises(ConfigError) as err:
        parse_config(raw, Path("."))
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(message)


def test_an_inherited_rule_needs_its_zone_on_every_camera(site: Site) -> None:
    raw = site_config(site, {"rules": [RESTRICTED]}, {"name": "a", "zones": {"yard": YARD}}, {"name": "b"})
    with pytest.raises(ConfigError) as err:
        parse_config(raw, Path("."))
    assert err.value.problems == ["cameras[1].rules[0].zone: unknown zone 'yard' (zones: none declared)"]
