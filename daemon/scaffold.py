"""``sitewatch init DIR [--systemd]``: a starter config, and the service unit, from the installed package.

The config is the documented default (``config.toml``, shipped as package data) with its two inputs
pointed at the files this install ships — the demo model as ``pkg:sitewatch/...`` and the sample clip by
absolute path — so it runs as written from DIR, and as a service, where relative outputs go to the
state directory. The unit is the shipped one with ``ExecStart`` pointed at this install's ``sitewatch``
and at DIR's config. Nothing that exists is overwritten unless asked.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError
from .resources import DEFAULT_CONFIG, DEMO_MODEL, SAMPLE_CLIP, SYSTEMD_UNIT, packaged

SHIPPED_EXEC = "/opt/sitewatch/bin/sitewatch"
SHIPPED_CONFIG_ARG = "--config ${CONFIGURATION_DIRECTORY}/config.toml"
SERVICE_CONFIG_DIR = Path("/etc/sitewatch")


@dataclass(frozen=True)
class Written:
    config: Path
    unit: Path | None
    warnings: tuple[str, ...]


def starter_config() -> str:
    """The shipped config.toml, with the model and the sample clip resolved to this install's files."""
    text = packaged(DEFAULT_CONFIG).read_text(encoding="utf-8")
    replacements = {
        r'^path = "models/sitewatch-ppe-demo\.pt"$': f'path = "{DEMO_MODEL}"',
        r'^url = "samples/site\.mp4"$': f"url = {_toml_string(str(packaged(SAMPLE_CLIP)))}",
    }
    for pattern, new in replacements.items():
        text, n = re.subn(pattern, new.replace("\\", "\\\\"), text, count=1, flags=re.M)
        if n != 1:  # the shipped config changed shape: fail loudly rather than write a config that breaks
            raise RuntimeError(f"the shipped config.toml has no line matching {pattern}")
    return text


def service_unit(config: Path, executable: Path) -> str:
    """The shipped unit, running ``executable`` on ``config`` (absolute paths)."""
    text = packaged(SYSTEMD_UNIT).read_text(encoding="utf-8")
    if SHIPPED_EXEC not in text or SHIPPED_CONFIG_ARG not in text:
        raise RuntimeError("the shipped sitewatch.service has no ExecStart to rewrite")
    arg = SHIPPED_CONFIG_ARG if config.parent == SERVICE_CONFIG_DIR else f"--config {config}"
    return text.replace(SHIPPED_EXEC, str(executable)).replace(SHIPPED_CONFIG_ARG, arg)


def this_executable() -> Path:
    """The ``sitewatch`` script of the running install (the venv's bin/), for ExecStart."""
    beside = Path(sys.executable).parent / "sitewatch"
    return beside if beside.is_file() else Path(sys.argv[0]).resolve()


def init(directory: Path, systemd: bool, unit_dir: Path, force: bool = False) -> Written:
    directory = directory.resolve()
    config = directory / "config.toml"
    unit = unit_dir / "sitewatch.service" if systemd else None
    existing = [p for p in (config, unit) if p is not None and p.exists()]
    if existing and not force:
        raise ConfigError([f"{p}: already exists (use --force to overwrite)" for p in existing])
    text = starter_config()
    warnings = []
    exe = this_executable()
    unit_text = service_unit(config, exe) if systemd else None
    if systemd and (exe.is_relative_to("/home") or exe.is_relative_to("/root")):
        warnings.append(
            f"{exe} is under /home or /root, which the unit hides (ProtectHome=yes): "
            "install sitewatch into a venv under /opt (README, 'Running as a service')"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        config.write_text(text, encoding="utf-8")
        config.chmod(0o644)  # the service's dynamic user reads it
        if unit is not None and unit_text is not None:
            unit_dir.mkdir(parents=True, exist_ok=True)
            unit.write_text(unit_text, encoding="utf-8")
            unit.chmod(0o644)
    except OSError as exc:
        raise ConfigError([f"{exc.filename or directory}: cannot write: {exc.strerror}"]) from None
    return Written(config, unit, tuple(warnings))


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
