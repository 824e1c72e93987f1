"""Home Assistant itself, as the judge of our discovery payloads: the ``homeassistant`` package in a
virtual environment of its own (it pins its dependencies, which must not meet ours), driven through a
small script that applies each MQTT platform's ``DISCOVERY_SCHEMA`` and renders value templates with
Jinja as HA does.

The environment is ``$SITEWATCH_HA_PYTHON`` when set, else ``.cache/ha-venv`` (tests/side_venv.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from side_venv import side_python

HA_REQUIREMENTS = ["homeassistant==2024.3.3"]

JUDGE = r"""
import importlib, json, re, sys
import jinja2
from homeassistant.components.mqtt import discovery

out = []
for item in json.load(sys.stdin):
    problems = []
    component, config = item["component"], item["config"]
    trimmed = item["topic"].split("/", 1)[1]
    if not discovery.TOPIC_MATCHER.match(trimmed):
        problems.append(f"topic {item['topic']} is not a discovery topic")
    if component not in discovery.SUPPORTED_COMPONENTS:
        problems.append(f"{component} is not an MQTT platform")
    schema = importlib.import_module(f"homeassistant.components.mqtt.{component}").DISCOVERY_SCHEMA
    try:
        validated = schema(dict(config))
    except Exception as exc:
        problems.append(f"{component} {item['topic']}: {exc}")
    else:
        dropped = set(config) - set(validated)
        if dropped:
            problems.append(f"{component} {item['topic']}: keys HA does not know: {sorted(dropped)}")
    rendered = {}
    for key, payload in item.get("samples", {}).items():
        template = config[key]
        value = payload
        try:
            value_json = json.loads(payload)
        except ValueError:
            value_json = None
        rendered[key] = jinja2.Environment().from_string(template).render(value=value, value_json=value_json)
    out.append({"problems": problems, "rendered": rendered})
json.dump(out, sys.stdout)
"""


def ha_python() -> Path:
    """The Python of an environment with Home Assistant installed."""
    return side_python("ha-venv", HA_REQUIREMENTS, "SITEWATCH_HA_PYTHON")


def judge(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each {component, topic, config, samples?}: HA's verdict and the rendered templates."""
    done = subprocess.run(
        [str(ha_python()), "-c", JUDGE], input=json.dumps(items), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    verdicts: list[dict[str, Any]] = json.loads(done.stdout)
    return verdicts
