"""Virtual environments of their own for the real third-party servers and judges the tests run beside
sitewatch: Home Assistant (tests/ha_judge.py) and KServe's model server (tests/oip.py) pin dependencies
that must not meet ours (FastAPI, protobuf, aiohttp, ...).

``side_python(name, requirements, env_var)`` is ``$env_var`` when set, else ``.cache/<name>`` in the
checkout, created once under a lock (``.ci/run`` creates them ahead of the tests, in the background; a
developer's first run takes a minute or two). A marker file names what was installed, so a changed
requirement makes a fresh environment.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"


def marker_name(requirements: list[str]) -> str:
    return ".installed-" + hashlib.sha256(" ".join(requirements).encode()).hexdigest()[:12]


def side_python(name: str, requirements: list[str], env_var: str) -> Path:
    """The Python of environment ``name`` with ``requirements`` installed (made once, under a lock)."""
    if env := os.environ.get(env_var):
        return Path(env)
    venv = CACHE / name
    python = venv / "bin" / "python"
    marker = venv / marker_name(requirements)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
            marker.touch()
    return python


if __name__ == "__main__":  # .ci/run: python tests/side_venv.py NAME ENV_VAR REQUIREMENT...
    print(side_python(sys.argv[1], sys.argv[3:], sys.argv[2]))
