"""The event payload and its ids."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from sitewatch.daemon.config import RULE_KINDS
from sitewatch.daemon.events import BBox, Event, RuleRef, iso_utc, new_id
from sitewatch.daemon.events import event_schema as generated_schema


def _event() -> Event:
    return Event(
        event_id=new_id(),
        alert_id=new_id(),
        type="end",
        rule=RuleRef("hardhat", "ppe"),
        camera="gate-1",
        track_id=3,
        label="person",
        confidence=0.87654,
        bbox=BBox.from_pixels((10, 20, 110, 220), (640, 480)),
        zone=None,
        line=None,
        count=None,
        started_at=1000.0,
        ended_at=1004.5,
        frame_ts=1005.0,
        snapshot="gate-1/x.jpg",
        reason="cleared",
        model="best.pt",
        host="box",
    )


def test_ids_are_unique_uuid7_and_sort_in_creation_order() -> None:
    ids = [new_id() for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert ids == sorted(ids)
    assert all(i[14] == "7" for i in ids)


def test_iso_utc_has_milliseconds_and_z() -> None:
    assert iso_utc(0.25) == "1970-01-01T00:00:00.250Z"


def test_event_json_validates_against_the_published_schema(event_schema: dict[str, Any]) -> None:
    data = _event().to_dict()
    jsonschema.validate(data, event_schema)
    assert data["duration_s"] == 4.5
    assert data["bbox"] == {
        "xyxy": [10.0, 20.0, 110.0, 220.0],
        "normalized": [0.01562, 0.04167, 0.17188, 0.45833],
    }
    assert data["confidence"] == 0.8765


def test_the_documented_example_validates(event_schema: dict[str, Any]) -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "events.md").read_text()
    example = re.search(r"```json\n(.*?)\n```", text, re.S)
    assert example is not None
    jsonschema.validate(json.loads(example.group(1)), event_schema)


def test_the_published_schema_is_the_one_generated_from_the_payload_model(
    event_schema: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/event.schema.json is `sitewatch schema` verbatim: regenerate it with
    `.venv/bin/sitewatch schema > docs/event.schema.json` when the payload changes."""
    from sitewatch.daemon.cli import main

    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == event_schema == generated_schema()
    assert tuple(event_schema["$defs"]["RulePayload"]["properties"]["kind"]["enum"]) == RULE_KINDS


def test_an_event_that_breaks_the_schema_is_rejected() -> None:
    """The schema is strict enough to catch a wrong payload (the generated one is not a rubber stamp)."""
    schema = generated_schema()
    good = _event().to_dict()
    jsonschema.validate(good, schema)
    for broken in (
        {**good, "extra": 1},
        {**good, "event_id": "not-a-uuid"},
        {**good, "confidence": 1.5},
        {**good, "started_at": "2026-11-30 12:00"},
        {**good, "bbox": {"xyxy": [1, 2, 3], "normalized": [0, 0, 1, 1]}},
        {**good, "rule": {"name": "x", "kind": "nope"}},
        {k: v for k, v in good.items() if k != "zone"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
