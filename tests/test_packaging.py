"""The wheel is the product: built from this checkout, installed into a fresh environment, it runs the
demo from an empty directory, offline, beside python-daemon (whose import name is `daemon`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (built,) = out.glob("sitewatch-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding only the wheel; its dependencies (torch, Ultralytics, ...) are borrowed from
    this environment's site-packages through a .pth line, which does not carry this checkout's
    editable install (its own .pth is not processed from there)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (purelib / "_borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
         "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return venv


def _run(venv: Path, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**env, "HOME": str(cwd)},
    )  # fmt: skip


def test_the_wheel_holds_the_product_and_nothing_else(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "sitewatch/config.toml",
        "sitewatch/models/sitewatch-ppe-demo.pt",
        "sitewatch/samples/site.mp4",
        "sitewatch/samples/site.mp4.truth.json",
        "sitewatch/samples/two-stage.toml",
        "sitewatch/models/sitewatch-hardhat-cls/model.safetensors",
        "sitewatch/models/sitewatch-hardhat-cls/preprocessor_config.json",
        "sitewatch/models/sitewatch-hardhat-cls/config.json",
        "sitewatch/daemon/attributes/stage.py",
        "sitewatch/systemd/sitewatch.service",
        "sitewatch/daemon/cli.py",
        "sitewatch/trackers/bytetrack.py",
        "sitewatch/sinks/mqtt.py",
        "sitewatch/daemon/py.typed",
    ):
        assert shipped in names, shipped
    tops = {n.split("/")[0] for n in names}
    assert tops == {"sitewatch", wheel.name.split("-py3")[0] + ".dist-info"}, tops  # no bare daemon/
    assert not any(n.startswith(("sitewatch/tests/", "sitewatch/tools/", "sitewatch/bench/")) for n in names)


@pytest.mark.model
def test_the_installed_wheel_runs_the_demo_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    version = _run(installed, "sitewatch", "version", cwd=empty)
    assert version.returncode == 0 and version.stdout.startswith("sitewatch "), version.stderr
    demo = _run(installed, "sitewatch", "demo", cwd=empty)
    assert demo.returncode == 0, demo.stderr
    assert "alerts: hardhat" in demo.stdout and "300/300 frames" in demo.stderr
    events = [json.loads(line) for line in (empty / "sitewatch-data/events.jsonl").read_text().splitlines()]
    starts = [e for e in events if e["type"] == "start"]
    assert {e["rule"]["name"] for e in starts} == {"hardhat", "restricted-area", "gate"}
    clips = [empty / "sitewatch-data/snapshots" / e["clip"] for e in starts if e["clip"]]
    assert clips and all(c.is_file() for c in clips)  # evidence clips, cut from the sample's H.264
    assert (empty / "sitewatch-data/state.sqlite").is_file()  # the gate's counts
    # everything it read came from the installed package, nothing from this checkout
    where = _run(installed, "python", "-c", "import sitewatch.daemon as d; print(d.__file__)", cwd=empty)
    assert str(installed) in where.stdout and str(ROOT) not in where.stdout
    static = Path(where.stdout.strip()).parent / "web" / "static"
    assert {p.name for p in static.iterdir()} == {"index.html", "app.js", "style.css"}  # the web page


@pytest.mark.model
def test_the_installed_two_stage_sample_loads_its_classifier(installed: Path, tmp_path: Path) -> None:
    find = "import sitewatch.daemon as d, pathlib; print(pathlib.Path(d.__file__).parents[1])"
    package = Path(_run(installed, "python", "-c", find, cwd=tmp_path).stdout.strip())
    check = _run(
        installed, "sitewatch", "check-config", str(package / "samples/two-stage.toml"), cwd=tmp_path
    )
    assert check.returncode == 0, check.stderr
    assert "classifier: hardhat = image_classification" in check.stdout
    assert str(ROOT) not in check.stdout  # the classifier and the model came from the install


def test_python_daemon_and_sitewatch_live_side_by_side(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import daemon, sitewatch.daemon.cli as cli; "
        "assert hasattr(daemon, 'DaemonContext'), daemon.__file__; "
        "print(daemon.__file__); print(cli.__file__)"
    )
    both = _run(installed, "python", "-c", probe, cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    python_daemon, ours = both.stdout.splitlines()
    assert "/sitewatch/" not in python_daemon and ours.endswith("sitewatch/daemon/cli.py")
    assert _run(installed, "sitewatch", "version", cwd=tmp_path).returncode == 0


def test_init_writes_a_config_that_runs_from_anywhere(installed: Path, tmp_path: Path) -> None:
    site = tmp_path / "etc-sitewatch"
    done = _run(installed, "sitewatch", "init", str(site), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (site / "config.toml").read_text()
    assert 'path = "pkg:sitewatch/models/sitewatch-ppe-demo.pt"' in text
    assert f'url = "{installed}' in text  # the sample clip inside the install
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = _run(installed, "sitewatch", "check-config", str(site / "config.toml"), cwd=elsewhere)
    assert check.returncode == 0, check.stderr
    assert f"jsonl: {site}/sitewatch-data/events.jsonl" in check.stdout  # outputs beside the config
    again = _run(installed, "sitewatch", "init", str(site), cwd=tmp_path)
    assert again.returncode == 2 and "already exists (use --force to overwrite)" in again.stderr


def test_only_the_headless_opencv_is_installed() -> None:
    """Ultralytics' headless build depends on opencv-python-headless; nothing installs the GUI build
    (Qt, libGL) whose cv2 would shadow it."""
    import importlib.metadata as md

    import cv2

    for gui_build in ("opencv-python", "opencv-contrib-python", "ultralytics"):
        with pytest.raises(md.PackageNotFoundError):
            md.distribution(gui_build)
    assert md.distribution("opencv-python-headless")
    assert re.search(r"GUI:\s+NONE", cv2.getBuildInformation())
