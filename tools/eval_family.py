"""Alert quality on a style family: generated clips of one family of tools/synthsite.py, scored with
``sitewatch eval``, summed over the clips.

    .venv/bin/python tools/eval_family.py [--family toon] [--clips 3] [--imgsz 640] [--model PT] [--json]
                                          [--two-stage CLASSIFIER_DIR] [--seed 100]

By default: three 60-s clips of the ``toon`` family (the one the demo model never saw in training),
960x540 at 15 fps with seven workers each, people 15-32 % of the frame height (heads 14-29 px), the
demo rules (hard hat and restricted zone, ``min_duration = 1``) as ``sitewatch demo`` runs them. Prints
per rule: alerts, truth intervals, precision, recall, duplicates and alert delay, as the model card and
the closing notes report them. ``--two-stage DIR``: the detector finds people only and the classifier
in DIR decides their hard hats (as samples/two-stage.toml), on the same clips. ``--seed N``: clips of
seeds N, N+1, ... instead of the card's 100-102 (a second left-out set, for a steadier figure).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from synthsite import FAMILIES, HELD_OUT_FAMILY, make_clip

from sitewatch.daemon.config import parse_config
from sitewatch.daemon.demo import demo_config
from sitewatch.daemon.evaluate import RuleScore, evaluate
from sitewatch.daemon.resources import DEMO_MODEL

REPO = Path(__file__).resolve().parents[1]


def evaluate_family(
    family: str,
    clips: int,
    model: str,
    imgsz: int | str,
    seconds: float = 60.0,
    fps: int = 15,
    size: tuple[int, int] = (960, 540),
    workers: int = 7,
    seed: int = 100,
    tiles: tuple[int, int] = (1, 1),
    classifier: Path | None = None,
) -> dict[str, RuleScore]:
    """Make ``clips`` clips of ``family`` and score the demo rules on each; the scores summed per rule."""
    totals: dict[str, RuleScore] = {}
    with tempfile.TemporaryDirectory(prefix="sitewatch-family-") as scratch:
        for k in range(clips):
            clip = make_clip(Path(scratch) / f"{family}-{k}.mp4", seconds=seconds, fps=fps, workers=workers,
                             seed=seed + k, size=size, family=family, heights=(0.15, 0.32))  # fmt: skip
            raw = demo_config(clip.path, Path(scratch) / "data", mqtt=False)
            raw["model"].update({"path": model, "imgsz": imgsz, "device": "cpu", "tiles": list(tiles)})
            if classifier is not None:
                two_stage(raw, classifier)
            config = parse_config(raw, Path(scratch))
            scores, _ = evaluate(config, Path(str(clip.path) + ".truth.json"))
            for s in scores:
                t = totals.setdefault(s.rule, RuleScore(s.rule, s.condition))
                t.alerts += s.alerts
                t.matched_alerts += s.matched_alerts
                t.intervals += s.intervals
                t.found_intervals += s.found_intervals
                t.duplicates += s.duplicates
                t.delays.extend(s.delays)
            print(
                f"clip {k + 1}/{clips}: " + ", ".join(f"{s.rule} {s.row()}" for s in scores), file=sys.stderr
            )
    return totals


def two_stage(raw: dict[str, Any], classifier: Path) -> None:
    """Turn the demo config into samples/two-stage.toml's: people from the detector, hats from the
    classifier."""
    shipped = tomllib.loads((REPO / "samples" / "two-stage.toml").read_text())["classifiers"][0]
    raw["model"]["classes"] = ["person"]
    raw["classifiers"] = [{**shipped, "path": str(classifier.resolve()), "device": "cpu"}]
    for rule in raw["cameras"][0]["rules"]:
        if rule["kind"] == "ppe":
            rule.update({"required": [], "violation_labels": [], "attributes": {"hardhat": "yes"}})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default=HELD_OUT_FAMILY, choices=sorted(FAMILIES))
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--model", default=DEMO_MODEL)
    ap.add_argument("--imgsz", default="640", help="pixels, or 'auto'")
    ap.add_argument("--tiles", default="1x1", help="slicing grid, e.g. 2x1")
    ap.add_argument("--two-stage", type=Path, metavar="CLASSIFIER_DIR")
    ap.add_argument("--seed", type=int, default=100,
                    help="the first clip's seed (then +1 per clip); 100 is the card's set")  # fmt: skip
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    imgsz: int | str = args.imgsz if args.imgsz == "auto" else int(args.imgsz)
    # a relative path means the working directory's, not the scratch directory the clips are made in
    model = str(Path(args.model).resolve()) if Path(args.model).is_file() else args.model
    cols, rows = (int(v) for v in args.tiles.split("x"))
    totals = evaluate_family(
        args.family,
        args.clips,
        model,
        imgsz,
        args.seconds,
        tiles=(cols, rows),
        classifier=args.two_stage,
        seed=args.seed,
    )
    rows_out: list[dict[str, Any]] = [s.row() for s in totals.values()]
    if args.json:
        stages = "two-stage" if args.two_stage else "one-stage"
        print(json.dumps({"family": args.family, "imgsz": imgsz, "stages": stages, "rules": rows_out}))
        return
    print(f"family {args.family}, {args.clips} clips, model {Path(args.model).name}, imgsz {imgsz}")
    print("rule             alerts  truth precision  recall  dupes delay p50")
    for r in rows_out:
        delay = "-" if r["delay_p50_s"] is None else f"{r['delay_p50_s']:.2f} s"
        cells = f"{r['alerts']:>6} {r['intervals']:>6} {r['precision']:>9.3f} {r['recall']:>7.3f}"
        print(f"{r['rule']:<16} {cells} {r['duplicates']:>6} {delay:>9}")


if __name__ == "__main__":
    main()
