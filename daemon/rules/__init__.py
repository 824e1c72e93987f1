"""Alert rules: what each kind checks (``ppe``, ``zone``), and how verdicts become alerts (``lifecycle``)."""

from __future__ import annotations

from ..config import CameraConfig, PpeRuleConfig, RuleConfig, ZoneIntrusionRuleConfig
from .base import Rule, Scene, Subject, Timing
from .engine import RuleEngine
from .lifecycle import Lifecycle, Transition
from .ppe import PpeRule
from .zone import ZoneIntrusionRule

__all__ = [
    "Lifecycle",
    "PpeRule",
    "Rule",
    "RuleEngine",
    "Scene",
    "Subject",
    "Timing",
    "Transition",
    "ZoneIntrusionRule",
    "build_engine",
    "build_rule",
]


def build_rule(cfg: RuleConfig) -> Rule:
    timing = Timing(cfg.min_duration, cfg.clear_after, cfg.cooldown)
    if isinstance(cfg, PpeRuleConfig):
        return PpeRule(
            cfg.name,
            timing,
            person_label=cfg.person_label,
            required=cfg.required,
            violation_labels=cfg.violation_labels,
            head_fraction=cfg.head_fraction,
            min_overlap=cfg.min_overlap,
            zone=cfg.zone,
        )
    if isinstance(cfg, ZoneIntrusionRuleConfig):
        return ZoneIntrusionRule(cfg.name, timing, zone=cfg.zone, labels=cfg.labels, anchor=cfg.anchor)
    raise TypeError(f"no rule for {type(cfg).__name__}")  # pragma: no cover - config admits no other


def build_engine(camera: CameraConfig, *, model: str, snapshots: bool) -> RuleEngine:
    return RuleEngine(camera, [build_rule(r) for r in camera.rules], model=model, snapshots=snapshots)
