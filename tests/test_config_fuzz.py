"""A property-based fuzzer over the shipped config.toml: whatever a mutation does to it — wrong types,
non-finite or huge numbers, unusable paths, odd names, deleted or unknown keys — ``check-config``
answers 0 or 2 without a traceback, and a config it accepts runs a few frames without one.

CI runs a fixed sample (a fixed seed); set ``SITEWATCH_FUZZ_EXAMPLES`` and ``SITEWATCH_FUZZ_SEED`` for a
longer campaign.
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

from sitewatch.daemon.cli import main

ROOT = Path(__file__).parents[1]
SHIPPED = tomllib.loads((ROOT / "config.toml").read_text())
EXAMPLES = int(os.environ.get("SITEWATCH_FUZZ_EXAMPLES", "100"))


def base_config() -> dict[str, Any]:
    """The shipped config, with its sample and model found from anywhere and the health port off."""
    cfg = copy.deepcopy(SHIPPED)
    cfg["model"]["path"] = str(ROOT / cfg["model"]["path"])
    for cam in cfg["cameras"]:
        cam["url"] = str(ROOT / cam["url"])
    cfg["service"]["http_port"] = 0
    # MQTT on, towards a port where nothing listens, so its settings are exercised without a broker
    cfg["sinks"]["mqtt"].update(enabled=True, host="127.0.0.1", port=9, reconnect_max_s=1)
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

UNUSABLE_PATHS = ["/", "/dev/null", "/dev/null/x", "/proc/1/nope/x", "x" * 300, "/tmp/" + "y" * 300, "", " "]
HOSTILE_URLS = [
    "usb:-1", "usb:abc", "usb:99999", "usb:", "/dev/videoX", "rtsp://[::1/x", "rtsp:///x", "rtsp://h:99999/x",
    "rtsp://u:p#?/w@127.0.0.1:1/x", "rtsp://cam/x\n", "", "x" * 300, "/dev/null", "file://",
]  # fmt: skip
ODD_NAMES = ["", "a\n", "z\n", "../x", "a b", "x" * 70, "ünï", "$x", "a/b"]
ODD_PREFIXES = ["$SYS/x", "a//b", "site/#", "+", "", "/", "a\x00b", "x" * 300]
ODD_DEVICES = ["cuda", "cuda:0", "cuda:7", "mps", "gpu", ""]
ODD_STRINGS = UNUSABLE_PATHS + HOSTILE_URLS + ODD_NAMES + ODD_PREFIXES + ODD_DEVICES + ["1e308", "nan"]
ODD_NUMBERS = [0, -1, 1, 2**31, 2**63 - 1, math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, 0.5, 1e6]
any_value = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.integers(-5, 5), max_size=3),
    st.just({}),
    st.just([[0.0, 0.0], [1.0, 0.0]]),
)
BY_KEY: dict[str, list[Any]] = {
    "url": HOSTILE_URLS,
    "path": UNUSABLE_PATHS,
    "dir": UNUSABLE_PATHS,
    "cache_dir": UNUSABLE_PATHS,
    "record_dir": UNUSABLE_PATHS,
    "name": ODD_NAMES,
    "topic_prefix": ODD_PREFIXES,
    "device": ODD_DEVICES,
    "http_host": ["", " ", "not a host", "::1", "0.0.0.0"],
}


def value_for(path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """Mostly a hostile value for the kind of key (where bugs hide once types are checked: unusable
    paths, URLs no source opens, non-finite numbers), sometimes anything at all."""
    node: Any = BASE
    for k in path:
        node = node[k]
    if path[-1] in BY_KEY:
        like: st.SearchStrategy[Any] = st.sampled_from(BY_KEY[path[-1]])
    elif isinstance(node, bool):
        like = st.booleans()
    elif isinstance(node, int | float):
        like = st.sampled_from(ODD_NUMBERS)
    elif isinstance(node, str):
        like = st.sampled_from(ODD_STRINGS)
    elif isinstance(node, list) and node and isinstance(node[0], list):  # zone and line points
        like = st.lists(
            st.lists(st.sampled_from(ODD_NUMBERS), min_size=2, max_size=2), min_size=2, max_size=4
        )
    else:
        like = any_value
    return st.one_of(like, like, like, any_value)


BASE = base_config()
HOT_PATHS = [p for p in PATHS if p[-1] in BY_KEY]
"""Keys whose bad values once crashed 'run' after check-config said OK: picked half of the time."""
mutation = st.one_of(st.sampled_from(HOT_PATHS), st.sampled_from(PATHS)).flatmap(
    lambda path: st.tuples(
        st.sampled_from(["set", "set", "set", "delete", "unknown"]), st.just(path), value_for(path)
    )
)
mutations = st.lists(mutation, min_size=1, max_size=2)


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
    derandomize=False,  # the @seed above makes CI deterministic; SITEWATCH_FUZZ_SEED explores further
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=mutations)
def test_a_mutated_config_is_accepted_and_runs_or_is_rejected_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ops: list[tuple[str, tuple[Any, ...], Any]]
) -> None:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "config.toml"  # examples may repeat: a fresh dir each
    cfg = base_config()
    cfg["model"]["cache_dir"] = str(tmp_path / "models")  # one export for all examples (unless mutated)
    try:
        path.write_text(to_toml(mutate(cfg, ops)))
    except (TypeError, UnicodeEncodeError):
        return  # not expressible as TOML (e.g. a lone surrogate): nothing a user could write
    rc = main(["check-config", str(path)])
    captured = capsys.readouterr()
    assert rc in (0, 2), captured
    assert "Traceback" not in captured.err
    if rc == 2:
        assert "config error in" in captured.err, captured.err
        event("rejected by check-config")
        return
    event("accepted by check-config, then run")
    rc = main(["run", "--config", str(path), "--max-frames", "3", "--duration", "30"])
    err = capsys.readouterr().err
    assert rc in (0, 1), err  # 1: a clear "no camera could be read", e.g. a URL to a file that is not video
    assert "Traceback" not in err and "crashed" not in err, err
