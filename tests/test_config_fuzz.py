"""A property-based fuzzer over the shipped config.toml: whatever a mutation does to it — wrong types,
non-finite or huge numbers, unusable paths, odd names, deleted or unknown keys — ``check-config``
answers 0 or 2 without a traceback, and a config it accepts runs a few frames without one.

CI runs a fixed, derandomized sample; set ``SITEWATCH_FUZZ_EXAMPLES`` (and ``SITEWATCH_FUZZ_SEED``) for
a longer, random campaign.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers import to_toml
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from daemon.cli import main

ROOT = Path(__file__).parents[1]
SHIPPED = tomllib.loads((ROOT / "config.toml").read_text())
EXAMPLES = int(os.environ.get("SITEWATCH_FUZZ_EXAMPLES", "40"))


def base_config() -> dict[str, Any]:
    """The shipped config, with its sample and model found from anywhere and the health port off."""
    cfg = copy.deepcopy(SHIPPED)
    cfg["model"]["path"] = str(ROOT / cfg["model"]["path"])
    for cam in cfg["cameras"]:
        cam["url"] = str(ROOT / cam["url"])
    cfg["service"]["http_port"] = 0
    return cfg


def key_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and list index in the config, depth first."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out += key_paths(v, (*prefix, k))
    return out


PATHS = key_paths(base_config())

ODD_STRINGS = [
    "", " ", "/", "/dev/null", "/dev/null/x", "/proc/1/nope", "x" * 300, "relative/dir", "a\nb", "z\n",
    "usb:-1", "usb:abc", "usb:99999", "/dev/videoX", "rtsp://[::1/x", "rtsp:///x", "rtsp://h:99999/x",
    "rtsp://u:p#?/w@127.0.0.1:1/x", "$SYS/x", "a//b", "site/#", "cuda:7", "mps", "pkg:nonexistent/x.pt",
    "1e308", "nan", "ünïcödé", "../../etc/passwd",
]  # fmt: skip
values = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324]),
    st.booleans(),
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=12),
    st.lists(st.integers(-5, 5), max_size=3),
    st.just({}),
    st.just([[0.0, 0.0], [1.0, 0.0]]),
)
mutations = st.lists(
    st.tuples(st.sampled_from(["set", "delete", "unknown"]), st.sampled_from(PATHS), values),
    min_size=1,
    max_size=3,
)


def mutate(cfg: dict[str, Any], ops: list[tuple[str, tuple[Any, ...], Any]]) -> dict[str, Any]:
    for op, path, value in ops:
        node: Any = cfg
        try:
            for k in path[:-1]:
                node = node[k]
            last = path[-1]
            if op == "set":
                node[last] = value
            elif op == "delete":
                del node[last]
            elif isinstance(node, dict):
                node["fuzzed_unknown_key"] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    return cfg


@pytest.mark.model
@seed(int(os.environ.get("SITEWATCH_FUZZ_SEED", "20261130")))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="SITEWATCH_FUZZ_SEED" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=mutations)
def test_a_mutated_config_is_accepted_and_runs_or_is_rejected_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ops: list[tuple[str, tuple[Any, ...], Any]]
) -> None:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "config.toml"  # examples may repeat: a fresh dir each
    try:
        path.write_text(to_toml(mutate(base_config(), ops)))
    except (TypeError, UnicodeEncodeError):
        return  # not expressible as TOML (e.g. a lone surrogate): nothing a user could write
    rc = main(["check-config", str(path)])
    captured = capsys.readouterr()
    assert rc in (0, 2), captured
    assert "Traceback" not in captured.err
    if rc == 2:
        assert captured.err.startswith("config error in"), captured.err
        event("rejected by check-config")
        return
    event("accepted by check-config, then run")
    rc = main(["run", "--config", str(path), "--max-frames", "3", "--duration", "30"])
    err = capsys.readouterr().err
    assert rc in (0, 1), err  # 1: a clear "no camera could be read", e.g. a URL to a file that is not video
    assert "Traceback" not in err and "crashed" not in err, err
