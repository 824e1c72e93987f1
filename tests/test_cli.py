"""The command line as a user meets it: every problem in one round, quiet pipes, sane arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Site


def test_check_config_reports_file_and_label_problems_in_one_round(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    from sitewatch.daemon.cli import main

    video = site.video("gate", 3)
    rules = [{"name": "hats", "kind": "ppe", "required": ["hardhat"]}]
    config = site.config(
        [{"name": "gate", "url": str(video), "rules": rules}, {"name": "yard", "url": "/srv/clips/yard.mp4"}],
        labels=["person"],
    )
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"config error in {config}:"
    assert "  cameras[1].url: video file not found: /srv/clips/yard.mp4" in err
    assert any(
        line.startswith("  cameras[0].rules[0].required: label(s) 'hardhat' not produced") for line in err
    )


def test_a_closed_pipe_ends_the_output_quietly() -> None:
    """`sitewatch schema | head -1`: the reader leaves early; no BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitewatch.daemon", "schema"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the process writes: its first write meets EPIPE
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


@pytest.mark.parametrize("seconds", ["0", "-3", "nan"])
def test_demo_seconds_must_be_positive(seconds: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sitewatch.daemon.cli import main

    assert main(["demo", "--seconds", seconds]) == 2
    assert "--seconds must be a positive number" in capsys.readouterr().err


def test_demo_clip_that_does_not_exist_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sitewatch.daemon.cli import main

    assert main(["demo", "--clip", str(tmp_path / "nope.mp4"), "--data", str(tmp_path)]) == 2
    assert f"--clip {tmp_path / 'nope.mp4'}: video file not found" in capsys.readouterr().err


def test_init_without_systemd_writes_only_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sitewatch.daemon.cli import main

    assert main(["init", str(tmp_path / "site"), "--unit-dir", str(tmp_path / "units")]) == 0
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["config.toml"]
    assert not (tmp_path / "units").exists()
    assert f"sitewatch run --config {tmp_path / 'site' / 'config.toml'}" in capsys.readouterr().out
