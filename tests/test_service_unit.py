"""The README's service flow, as far as a machine without systemd as PID 1 allows: `sitewatch init
--systemd` renders the unit for this install, systemd accepts it and rates it hardened, and the daemon
runs the way the unit runs it — as an unprivileged user, with /etc and the config directory read-only
and only the state directory writable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitewatch.daemon.cli import main

EXPOSURE_LIMIT = 2.5
NOBODY = 65534

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (.ci/run installs it)"
)


@pytest.fixture
def rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    etc, units = tmp_path / "etc", tmp_path / "units"
    assert main(["init", str(etc), "--systemd", "--unit-dir", str(units)]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "--state-dir /var/lib/sitewatch" in out
    return etc / "config.toml", units / "sitewatch.service"


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning", "SYSTEMD_COLORS": "0"},
    )  # fmt: skip


def test_the_rendered_unit_runs_this_install_on_that_config(rendered: tuple[Path, Path]) -> None:
    config, unit = rendered
    text = unit.read_text()
    exe = Path(sys.executable).parent / "sitewatch"
    assert f"ExecStart={exe} run --config {config}\n" in text
    assert "RestartPreventExitStatus=2" in text.splitlines()  # a config error is not retried in a loop
    # credentials are optional: no active LoadCredential= (systemd fails a unit whose file is missing)
    assert not re.search(r"^LoadCredential=", text, re.M) and "#LoadCredential=mqtt-password:" in text
    for device in ("/dev/nvidiactl", "char-nvidia-frontend", "char-video4linux", "char-drm"):
        assert re.search(rf"^DeviceAllow={re.escape(device)} rw$", text, re.M), device  # GPUs and USB cameras


def test_init_renders_the_documented_config_dir_as_the_units_configuration_directory(tmp_path: Path) -> None:
    from sitewatch.daemon.scaffold import service_unit

    text = service_unit(Path("/etc/sitewatch/config.toml"), Path("/opt/sitewatch/bin/sitewatch"))
    assert (
        "ExecStart=/opt/sitewatch/bin/sitewatch run --config ${CONFIGURATION_DIRECTORY}/config.toml" in text
    )
    shipped = (Path(__file__).parents[1] / "systemd/sitewatch.service").read_text()
    assert text == shipped  # the repository's unit is what init writes for the README's layout


@needs_analyze
def test_systemd_accepts_the_unit(rendered: tuple[Path, Path]) -> None:
    _, unit = rendered
    proc = _analyze("verify", str(unit))
    assert proc.returncode == 0, proc.stderr
    assert "sitewatch.service" not in proc.stderr, proc.stderr  # no warning about our unit


@needs_analyze
def test_the_unit_is_hardened_below_the_exposure_limit(rendered: tuple[Path, Path]) -> None:
    _, unit = rendered
    proc = _analyze("security", "--offline=true", str(unit))
    if "--offline" in proc.stderr and proc.returncode != 0:
        pytest.skip(f"this systemd-analyze cannot rate a unit file offline: {proc.stderr.strip()}")
    found = re.search(r"Overall exposure level for sitewatch\.service: (\d+\.\d+)", proc.stdout)
    assert found, proc.stdout + proc.stderr
    assert float(found.group(1)) < EXPOSURE_LIMIT, proc.stdout
    assert (
        _analyze("security", "--offline=true", f"--threshold={EXPOSURE_LIMIT * 10:.0f}", str(unit)).returncode
        == 0
    )


@pytest.fixture
def service_dirs() -> Iterator[tuple[Path, Path, Path]]:
    """A config dir (root-owned, as /etc/sitewatch) and a state dir owned by the service user, under a
    directory an unprivileged user can traverse (pytest's tmp_path may not be)."""
    root = Path(tempfile.mkdtemp(prefix="sitewatch-service-"))
    try:
        root.chmod(0o755)
        etc, state, units = root / "etc", root / "state", root / "units"
        state.mkdir()
        os.chown(state, NOBODY, NOBODY)
        assert main(["init", str(etc), "--systemd", "--unit-dir", str(units)]) == 0
        yield etc, state, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _as_the_unit_would(etc: Path, state: Path | None, *command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as nobody in a private mount namespace where /etc and the config directory are
    read-only (ProtectSystem=strict), with STATE_DIRECTORY set as systemd sets it."""
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "YOLO_OFFLINE": "1"}
    if state is not None:
        env |= {"STATE_DIRECTORY": str(state), "YOLO_CONFIG_DIR": str(state / "ultralytics")}
    else:
        env |= {"YOLO_CONFIG_DIR": "/nonexistent/ultralytics"}
    script = (
        f'mount --bind "{etc}" "{etc}" && mount -o remount,bind,ro "{etc}" && '
        "mount --bind /etc /etc && mount -o remount,bind,ro /etc && "
        f'exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups -- "$@"'
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command],
        capture_output=True, text=True, timeout=300, cwd="/", env=env,
    )  # fmt: skip


def _can_unshare() -> bool:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        return False
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


needs_unshare = pytest.mark.skipif(not _can_unshare(), reason="needs root, unshare and setpriv")


@needs_unshare
@pytest.mark.model
def test_the_service_writes_to_its_state_directory_with_etc_read_only(
    service_dirs: tuple[Path, Path, Path],
) -> None:
    etc, state, _ = service_dirs
    config = str(etc / "config.toml")
    exe = str(Path(sys.executable).parent / "sitewatch")
    check = _as_the_unit_would(etc, state, exe, "check-config", config)
    assert check.returncode == 0, check.stderr
    assert f"jsonl: {state}/sitewatch-data/events.jsonl" in check.stdout
    assert "outputs: writable by nobody (uid 65534)" in check.stdout
    run = _as_the_unit_would(etc, state, exe, "run", "--config", config, "--max-frames", "120")
    assert run.returncode == 0, run.stderr
    events = (state / "sitewatch-data" / "events.jsonl").read_text().splitlines()
    assert any('"type":"start"' in line for line in events), run.stderr
    assert list((state / "sitewatch-data" / "snapshots").rglob("*.jpg"))
    assert not list(etc.iterdir())[1:], list(etc.iterdir())  # nothing but config.toml under the config dir


@needs_unshare
def test_without_a_state_directory_the_read_only_config_dir_is_a_config_error_not_a_crash(
    service_dirs: tuple[Path, Path, Path],
) -> None:
    """The failure the issue found (Errno 30 on the first event) is caught before start, with the key."""
    etc, _, _ = service_dirs
    exe = str(Path(sys.executable).parent / "sitewatch")
    run = _as_the_unit_would(etc, None, exe, "run", "--config", str(etc / "config.toml"))
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"sinks.jsonl.path: cannot create {etc}/sitewatch-data/events.jsonl" in run.stderr
    assert "Traceback" not in run.stderr
