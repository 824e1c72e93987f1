"""Alert rules: what each kind checks (``ppe``, ``zone``, ``crowd``, ``line``), and how verdicts become
alerts (``lifecycle``)."""

from __future__ import annotations

from collections.abc import Collection, MutableMapping

from ..config import (
    CameraConfig,
    CrowdRuleConfig,
    DwellRuleConfig,
    LineCrossingRuleConfig,
    PpeRuleConfig,
    RuleConfig,
    ZoneIntrusionRuleConfig,
)
from ..state import LineTally
from .base import Rule, Scene, Subject, Timing
from .crowd import CrowdRule
from .engine import RuleEngine
from .lifecycle import Lifecycle, Transition
from .line import LineCrossingRule
from .ppe import PpeRule
from .zone import DwellRule, ZoneIntrusionRule

__all__ = [
    "CrowdRule",
    "DwellRule",
    "Lifecycle",
    "LineCrossingRule",
    "LineTally",
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


Tallies = MutableMapping[tuple[str, str], LineTally]
"""Line counts by (camera, rule name), kept by the pipeline across reloads and restarts."""


def build_rule(cfg: RuleConfig, camera: CameraConfig, tallies: Tallies | None = None) -> Rule:
    rule = _rule(cfg, camera, tallies)
    rule.ignore_stationary = cfg.ignore_stationary
    rule.enabled = cfg.enabled
    return rule


def _rule(cfg: RuleConfig, camera: CameraConfig, tallies: Tallies | None) -> Rule:
    if isinstance(cfg, LineCrossingRuleConfig):
        line = camera.lines[cfg.line]
        return LineCrossingRule(
            cfg.name,
            Timing(0.0, 0.0, cfg.cooldown, instant=True),
            line=cfg.line,
            directions=line.directions(),
            toward=line.toward(),
            direction=cfg.direction,
            labels=cfg.labels,
            anchor=cfg.anchor,
            tally=None if tallies is None else tallies.setdefault((camera.name, cfg.name), LineTally({})),
        )
    if isinstance(cfg, DwellRuleConfig):
        timing = Timing(cfg.max_seconds, cfg.clear_after, cfg.cooldown, cfg.update_interval)
        return DwellRule(cfg.name, timing, zone=cfg.zone, labels=cfg.labels, anchor=cfg.anchor)
    timing = Timing(cfg.min_duration, cfg.clear_after, cfg.cooldown, cfg.update_interval)
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
            item_regions=cfg.item_regions,
            evidence_seconds=cfg.evidence_seconds,
            violation_share=cfg.violation_share,
            min_evidence_seconds=cfg.min_evidence_seconds,
            seen_share=cfg.seen_share,
            min_head_px=cfg.min_head_px,
            attributes=cfg.attributes,
        )
    if isinstance(cfg, ZoneIntrusionRuleConfig):
        return ZoneIntrusionRule(cfg.name, timing, zone=cfg.zone, labels=cfg.labels, anchor=cfg.anchor)
    if isinstance(cfg, CrowdRuleConfig):
        return CrowdRule(
            cfg.name, timing, zone=cfg.zone, min_count=cfg.min_count, labels=cfg.labels, anchor=cfg.anchor
        )
    raise TypeError(f"no rule for {type(cfg).__name__}")  # pragma: no cover - config admits no other


def build_engine(
    camera: CameraConfig,
    *,
    model: str,
    snapshots: bool,
    clips: Collection[str] = (),
    tallies: Tallies | None = None,
    host: str | None = None,
) -> RuleEngine:
    """A camera's rules; a line rule takes its counts from ``tallies`` (a new one starts at zero);
    alerts of the rule kinds in ``clips`` name an evidence clip; events carry ``host`` (default: the
    host name)."""
    rules = [build_rule(r, camera, tallies) for r in camera.rules]
    return RuleEngine(camera, rules, model=model, snapshots=snapshots, clips=clips, host=host)
