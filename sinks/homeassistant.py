"""Home Assistant MQTT discovery: the entities a site's cameras and rules become, without YAML.

One Home Assistant *device* per camera, named after it, with (docs/mqtt.md#home-assistant):

- a ``binary_sensor`` per PPE, zone, dwell and crowd rule (``ON`` while any alert is active; the active
  alert ids and the rule's switches as attributes), a ``switch`` to turn the rule off and on, and a
  ``button`` that acknowledges its active alerts;
- a ``sensor`` per line direction (``state_class: total_increasing``: HA's statistics handle the
  counter) and the rule's switch;
- ``sensor``s for the camera's state and frame rate, a count sensor for each label its rules watch (and
  per zone), a ``switch`` that stops or starts watching it, and an ``image`` of the latest alert's
  snapshot when MQTT snapshots are on.

Every entity uses the daemon's availability topic, so HA shows them unavailable when the daemon dies
(Last Will). Discovery topics are ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` with
``node_id`` from the MQTT client id, so replicas of one site never clear each other's entities. The
payloads are plain dicts built here; a test validates every one against Home Assistant's own discovery
schemas (the ``homeassistant`` package's ``DISCOVERY_SCHEMA`` of each platform).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sitewatch.daemon import __version__
from sitewatch.daemon.config import (
    CameraConfig,
    Config,
    CrowdRuleConfig,
    DwellRuleConfig,
    LineCrossingRuleConfig,
    PpeRuleConfig,
    RuleConfig,
    ZoneIntrusionRuleConfig,
)

DEVICE_CLASS = {"ppe": "safety", "zone_intrusion": "occupancy", "dwell": "occupancy", "crowd": "problem"}
"""binary_sensor device classes: ``safety`` is on when unsafe, ``occupancy`` when someone is there."""


@dataclass(frozen=True, slots=True)
class Entity:
    component: str
    object_id: str
    config: dict[str, Any]

    def topic(self, discovery_prefix: str, node_id: str) -> str:
        return f"{discovery_prefix}/{self.component}/{node_id}/{self.object_id}/config"


def slug(text: str) -> str:
    """Discovery topic levels and ids admit ``[a-zA-Z0-9_-]`` only (camera names may hold dots)."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text)


def entities(
    config: Config, *, prefix: str, node_id: str, snapshots: bool, availability_topic: str | None = None
) -> list[Entity]:
    """Every discovery entity of the configured cameras and rules. ``availability_topic``: the
    daemon's (``<prefix>/availability``) unless a sharded replica names its own."""
    availability = [
        {
            "topic": availability_topic or f"{prefix}/availability",
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    ]
    out: list[Entity] = []
    for camera in config.cameras:
        device = {
            "identifiers": [f"{node_id}_{slug(camera.name)}"],
            "name": camera.name,
            "manufacturer": "sitewatch",
            "model": "site camera",
            "sw_version": __version__,
        }
        common = {
            "availability": availability,
            "device": device,
            "origin": {"name": "sitewatch", "sw_version": __version__},
        }
        for entity in _camera_entities(camera, prefix, snapshots) + [
            e for rule in camera.rules for e in _rule_entities(camera, rule, prefix)
        ]:
            object_id = slug(f"{camera.name}_{entity.object_id}")
            payload = {
                **entity.config,
                **common,
                "unique_id": f"{node_id}_{object_id}",
                "object_id": f"sitewatch_{object_id}",
            }
            out.append(Entity(entity.component, object_id, payload))
    return out


def _camera_entities(camera: CameraConfig, prefix: str, snapshots: bool) -> list[Entity]:
    base = f"{prefix}/{camera.name}"
    status = f"{base}/status"
    out = [
        Entity(
            "sensor",
            "state",
            {
                "name": "State",
                "state_topic": status,
                "value_template": "{{ value_json.state }}",
                "icon": "mdi:cctv",
                "entity_category": "diagnostic",
            },
        ),
        Entity(
            "sensor",
            "fps",
            {
                "name": "Frame rate",
                "state_topic": status,
                "value_template": "{{ value_json.fps }}",
                "unit_of_measurement": "fps",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            },
        ),
        Entity(
            "switch",
            "watching",
            {
                "name": "Watching",
                "command_topic": f"{base}/set",
                "state_topic": status,
                "value_template": "{{ 'OFF' if value_json.state == 'disabled' else 'ON' }}",
                "payload_on": "ON",
                "payload_off": "OFF",
                "entity_category": "config",
            },
        ),
    ]
    if snapshots:
        out.append(
            Entity(
                "image",
                "snapshot",
                {"name": "Latest alert", "image_topic": f"{base}/snapshot", "content_type": "image/jpeg"},
            )
        )
    objects = f"{base}/objects"
    for label in _watched_labels(camera):
        out.append(
            Entity(
                "sensor",
                f"{label}_count",
                {
                    "name": f"{label} count",
                    "state_topic": objects,
                    "state_class": "measurement",
                    "value_template": f"{{{{ value_json.labels.get({label!r}, 0) }}}}",
                },
            )
        )
        for zone in camera.zones:
            out.append(
                Entity(
                    "sensor",
                    f"{zone}_{label}_count",
                    {
                        "name": f"{label} in {zone}",
                        "state_topic": objects,
                        "state_class": "measurement",
                        "value_template": _in_zone(zone, label),
                    },
                )
            )
    return out


def _rule_entities(camera: CameraConfig, rule: RuleConfig, prefix: str) -> list[Entity]:
    base = f"{prefix}/{camera.name}/rules/{rule.name}"
    switch = Entity(
        "switch",
        f"{rule.name}_enabled",
        {
            "name": f"{rule.name} enabled",
            "command_topic": f"{base}/set",
            "state_topic": f"{base}/attributes",
            "value_template": "{{ 'ON' if value_json.enabled else 'OFF' }}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "entity_category": "config",
        },
    )
    if isinstance(rule, LineCrossingRuleConfig):
        directions = camera.lines[rule.line].directions()
        return [
            Entity(
                "sensor",
                f"{rule.name}_{way}",
                {
                    "name": f"{rule.name} {way.replace('_', ' ')}",
                    "state_topic": f"{base}/count",
                    "value_template": f"{{{{ value_json[{way!r}] }}}}",
                    "state_class": "total_increasing",
                    "unit_of_measurement": "crossings",
                },
            )
            for way in directions
        ] + [switch]
    assert isinstance(rule, PpeRuleConfig | ZoneIntrusionRuleConfig | DwellRuleConfig | CrowdRuleConfig)
    return [
        Entity(
            "binary_sensor",
            rule.name,
            {
                "name": rule.name,
                "state_topic": f"{base}/state",
                "payload_on": "ON",
                "payload_off": "OFF",
                "json_attributes_topic": f"{base}/attributes",
                "device_class": DEVICE_CLASS[rule.kind],
            },
        ),
        switch,
        Entity(
            "button",
            f"{rule.name}_acknowledge",
            {
                "name": f"{rule.name} acknowledge",
                "command_topic": f"{base}/acknowledge/set",
                "payload_press": "PRESS",
            },
        ),
    ]


def _watched_labels(camera: CameraConfig) -> list[str]:
    labels: list[str] = []
    for rule in camera.rules:
        watched = [rule.person_label] if isinstance(rule, PpeRuleConfig) else getattr(rule, "labels", [])
        labels += [label for label in watched if label not in labels]
    return labels


def _in_zone(zone: str, label: str) -> str:
    return f"{{{{ (value_json.zones.get({zone!r}) or {{}}).get({label!r}, 0) }}}}"
