"""What a model knows, from its card: ``<model>.json`` beside the model file.

A card says which scenes the model was trained on. The demo model's says "synthetic": it learned
cartoon workers drawn by tools/synthsite.py (over generated ground and real photographs) and, pointed
at a real camera with people on it, its hard-hat alerts mean nothing. When such a model watches
anything but one of the generated clips (a file with the generator's ``.truth.json`` beside it),
``run`` and ``check-config`` say so once, with the way out (docs/models.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .config import Config, file_path


@dataclass(frozen=True, slots=True)
class ModelCard:
    domain: str
    """"synthetic" (trained on generated images only) or "real"."""
    scenes: str
    """In words: what the training images showed."""


def read_card(model_path: str) -> ModelCard | None:
    """The card beside the model file, or None (no card, or one without a domain)."""
    path = Path(model_path).with_suffix(".json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    card = data.get("card") if isinstance(data, dict) else None
    if not isinstance(card, dict) or not isinstance(card.get("domain"), str):
        return None
    return ModelCard(card["domain"], str(card.get("scenes", "")))


def domain_warnings(config: Config) -> list[str]:
    """One line per camera a synthetic-only model cannot be trusted on."""
    card = read_card(config.model.path)
    if card is None or card.domain != "synthetic":
        return []
    name = Path(config.model.path).name
    out = []
    for cam in config.cameras:
        clip = file_path(cam.url)
        if not (cam.kind == "file" and clip.with_name(clip.name + ".truth.json").is_file()):
            out.append(
                f"camera {cam.name}: model {name} knows only synthetic scenes ({card.scenes}); on a real "
                "camera its hard-hat alerts cannot be trusted. Use a model trained on real footage "
                "(docs/models.md)."
            )
    return out
