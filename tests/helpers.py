"""Test helpers: write configs, scripts and videos; read events back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from videos import write_video

Box = tuple[float, float, float, float]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, Path)):
        return json.dumps(str(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for test configs: top-level dicts become tables, lists of dicts arrays of
    tables, every other dict an inline table."""
    lines, tables, arrays = [], [], []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            arrays.append((key, value))
        elif isinstance(value, dict) and not prefix:
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    out = "".join(line + "\n" for line in lines)
    for key, value in tables:
        out += f"\n[{key}]\n" + to_toml(value, key)
    for key, items in arrays:
        name = f"{prefix}.{key}" if prefix else key
        for item in items:
            out += f"\n[[{name}]]\n" + to_toml(item, name)
    return out


def write_script(
    path: Path,
    frames: dict[tuple[str, int], list[tuple[float, float, float, float, float, str]]],
    labels: list[str] | None = None,
) -> Path:
    """A scripted-detector JSONL file: (camera, frame index) → detection rows."""
    with open(path, "w") as fh:
        if labels:
            fh.write(json.dumps({"labels": labels}) + "\n")
        for (camera, index), rows in sorted(frames.items()):
            fh.write(
                json.dumps({"camera": camera, "frame": index, "detections": [list(r) for r in rows]}) + "\n"
            )
    return path


def moving_box_frames(
    n: int, size: tuple[int, int], boxes: Callable[[int], list[Box]]
) -> Iterator[np.ndarray]:
    """Frames with filled rectangles where ``boxes(i)`` says, over a textured background."""
    w, h = size
    rng = np.random.default_rng(0)
    background = rng.integers(40, 90, (h, w, 3), dtype=np.uint8)
    for i in range(n):
        img = background.copy()
        for k, (x1, y1, x2, y2) in enumerate(boxes(i)):
            color = ((50 + 70 * k) % 255, 200, (255 - 60 * k) % 255)
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), color, -1)
        yield img


def make_video(
    path: Path,
    n: int,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    boxes: Callable[[int], list[Box]] | None = None,
) -> Path:
    write_video(path, moving_box_frames(n, size, boxes or (lambda i: [(10 + i, 20, 40 + i, 90)])), fps=fps)
    return path


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def start_daemon(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``sitewatch run`` as a real process (stdout and stderr together)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sitewatch.daemon", "run", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def terminate(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """SIGTERM a daemon and collect its output; killed if it does not stop within ``timeout``."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def local_mqtt(prefix: str, port: int = 1883, **extra: Any) -> dict[str, Any]:
    """An MQTT sink on the machine's broker, under a topic prefix (and client id) of this test's own."""
    return {
        "enabled": True, "host": "127.0.0.1", "port": port, "topic_prefix": prefix, "client_id": prefix,
        "outbox": {"path": "out/outbox.sqlite"}, **extra,
    }  # fmt: skip


def wait_for_line(path: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
    """Wait until a JSONL file has a line for which ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and any(
            predicate(json.loads(x)) for x in path.read_text().splitlines() if x.strip()
        ):
            return True
        time.sleep(0.1)
    return False


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
