"""Home Assistant itself, as the judge of our discovery payloads: the ``homeassistant`` package in a
virtual environment of its own (it pins its dependencies, which must not meet ours), driven through a
small script that applies each MQTT platform's ``DISCOVERY_SCHEMA`` and renders value templates with
Jinja as HA does.

The environment is ``$SITEWATCH_HA_PYTHON`` when set, else ``.cache/ha-venv`` in the checkout, created on
first use (``.ci/run`` creates it ahead of the tests; a developer's first run takes a minute or two).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HA_VERSION = "2024.3.3"
VENV = ROOT / ".cache" / "ha-venv"

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
    """The Python of an environment with Home Assistant installed (made once, under a lock)."""
    if env := os.environ.get("SITEWATCH_HA_PYTHON"):
        return Path(env)
    python = VENV / "bin" / "python"
    marker = VENV / f".homeassistant-{HA_VERSION}"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "ha-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", f"homeassistant=={HA_VERSION}"], check=True
            )
            marker.touch()
    return python


def judge(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each {component, topic, config, samples?}: HA's verdict and the rendered templates."""
    done = subprocess.run(
        [str(ha_python()), "-c", JUDGE], input=json.dumps(items), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    verdicts: list[dict[str, Any]] = json.loads(done.stdout)
    return verdicts
