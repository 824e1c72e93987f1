"""Files that ship inside the installed package.

The repository root is the ``sitewatch`` package (pyproject.toml maps it), so the default config, the demo
model, the sample clip with its ground truth and the systemd unit are package data: a wheel installed
anywhere finds them here, and so does a strict editable install of a checkout. Nothing looks for them
next to the source tree.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE_PREFIX = "pkg:"

DEFAULT_CONFIG = "pkg:sitewatch/config.toml"
DEMO_MODEL = "pkg:sitewatch/models/sitewatch-ppe-demo.pt"
SAMPLE_CLIP = "pkg:sitewatch/samples/site.mp4"
SYSTEMD_UNIT = "pkg:sitewatch/systemd/sitewatch.service"


def resolve_package_path(spec: str) -> Path:
    """``pkg:fall_detection/models/best.pt`` → that file inside the installed package.

    ``sitewatch`` is a namespace package (the repository root has no ``__init__.py``), so every portion
    is searched; the first that holds the file wins, else the first portion names the missing file.
    Raises FileNotFoundError if the package is not installed.
    """
    package, _, rest = spec.removeprefix(PACKAGE_PREFIX).partition("/")
    found = importlib.util.find_spec(package) if package else None
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(f"Python package {package!r} is not installed")
    candidates = [Path(location) / rest for location in found.submodule_search_locations]
    return next((c for c in candidates if c.exists()), candidates[0])


def packaged(spec: str) -> Path:
    """A file this package ships (one of the ``pkg:sitewatch/...`` names above); FileNotFoundError with
    a message that says the install is broken, if it is missing."""
    path = resolve_package_path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the sitewatch install ({spec}); reinstall sitewatch")
    return path
