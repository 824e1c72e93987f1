"""Environment files in systemd's ``EnvironmentFile=`` format, so ``check-config --env-file`` can
validate a deployed config with the secrets the service will get, without exporting them in a shell.

One ``KEY=VALUE`` per line; blank lines and lines starting with ``#`` or ``;`` are skipped; a value may
be wrapped in single or double quotes. Values are registered as secrets (masked in all output).
"""

from __future__ import annotations

import re
from pathlib import Path

from .config import ConfigError
from .redact import register_secret

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_env_file(path: Path) -> dict[str, str]:
    """The variables in ``path``; ConfigError naming the file and line for anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"--env-file {path}: cannot read: {exc}"]) from None
    values: dict[str, str] = {}
    problems = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.fullmatch(key):
            problems.append(f"--env-file {path}:{lineno}: not KEY=VALUE")  # never echo the line: a secret
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        register_secret(value)
        values[key] = value
    if problems:
        raise ConfigError(problems)
    return values
