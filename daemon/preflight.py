"""What ``run`` would hit, checked before anything starts: ``check-config`` runs it without starting
cameras, and ``run`` runs it before building the pipeline, so an unusable output path or TLS file is a
config error naming its key (exit 2), not a sink that fails on its first event.

Checked for the user running the command (the service's user when run as it, e.g. with
``systemd-run -p DynamicUser=yes`` or ``sudo -u``): output files and directories can be created and
written (no file where a directory must go, no name over 255 bytes, no read-only file system), and TLS
files are certificates and keys Python's ``ssl`` loads.
"""

from __future__ import annotations

import os
import pwd
import ssl
from pathlib import Path
from typing import Literal

from .config import Config, ConfigError
from .detectors import Detector, load_detector

NAME_MAX = 255
Kind = Literal["file", "dir", "db"]
"""What goes at a path: a file, a directory, or an SQLite database (which also needs its directory)."""


def current_user() -> str:
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def preflight(config: Config) -> list[str]:
    """One ``key: problem`` line per thing ``run`` could not do with this config."""
    return output_problems(config) + tls_problems(config)


def checked_detector(config: Config) -> Detector:
    """The pre-flight, then the model: every problem found is reported together, each naming its key,
    as one ConfigError. What passes here, ``run`` can start."""
    problems = preflight(config)
    try:
        detector = load_detector(config)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    return detector


def output_problems(config: Config) -> list[str]:
    s = config.sinks
    targets: list[tuple[str, Path, Kind]] = [("state_file", config.state_file, "db")]
    if s.jsonl.enabled:
        targets.append(("sinks.jsonl.path", s.jsonl.path, "file"))
    if s.snapshots.enabled:
        targets.append(("sinks.snapshots.dir", s.snapshots.dir, "dir"))
    if s.clips.enabled:
        targets.append(("sinks.clips.dir", s.clips.dir, "dir"))
    if s.mqtt.enabled:
        targets.append(("sinks.mqtt.outbox.path", s.mqtt.outbox.path, "db"))
    if any(c.record_tracks for c in config.cameras):
        targets.append(("record_dir", config.record_dir, "dir"))
    return [f"{key}: {problem}" for key, path, kind in targets if (problem := writable(path, kind))]


def writable(path: Path, kind: Kind) -> str:
    """Why this user could not create or write ``path`` ('' if it could). Never raises."""
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            return f"a name in {str(path)[:80]}... is longer than {NAME_MAX} bytes"
    try:
        if path.exists():
            if kind == "dir" and not path.is_dir():
                return f"{path} is a file, not a directory"
            if kind != "dir" and path.is_dir():
                return f"{path} is a directory, not a file"
            # SQLite writes -wal and -journal files beside the database: its directory must be writable too
            return _access(path, path) or (_access(path.parent, path) if kind == "db" else "")
        ancestor = path.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return f"cannot create {path}: {ancestor} is a file, not a directory"
        return _access(ancestor, path)
    except OSError as exc:
        return f"cannot use {path}: {exc.strerror or exc}"


def _access(existing: Path, target: Path) -> str:
    mode = os.W_OK | (os.X_OK if existing.is_dir() else 0)
    if os.access(existing, mode):
        return ""
    how = "write to" if existing == target else f"create {target}: cannot write to"
    if _read_only(existing):
        return f"cannot {how} {existing}: read-only file system"
    return f"cannot {how} {existing} as user {current_user()}"


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def tls_problems(config: Config) -> list[str]:
    tls = config.sinks.mqtt.tls
    if not (config.sinks.mqtt.enabled and tls.enabled):
        return []
    problems = []
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    except (ssl.SSLError, OSError, ValueError) as exc:
        problems.append(f"sinks.mqtt.tls.ca_file: not a usable CA certificate file ({_ssl_reason(exc)})")
        context = ssl.create_default_context()
    if tls.cert_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
        except (ssl.SSLError, OSError, ValueError) as exc:
            problems.append(
                f"sinks.mqtt.tls.cert_file: cannot load the client certificate ({_ssl_reason(exc)})"
            )
    elif tls.key_file is not None:
        problems.append("sinks.mqtt.tls.key_file: a key needs its cert_file")
    return problems


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
