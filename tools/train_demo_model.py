"""Trains the demo PPE model (models/sitewatch-ppe-demo.pt) on synthetic site images, on the CPU.

    .venv/bin/python tools/train_demo_model.py [--train 1400] [--stages 320:20,480:5] [--init PT]
                                               [--crops LO:HI] [--score-imgsz SIZE] [--keep-work]

Draws a YOLO dataset with tools/synthsite.py (classes person, hardhat, head) from the training style
families only (``TRAIN_FAMILIES``: the ``toon`` family is left out), trains Ultralytics' YOLO11n — from
its model YAML (random initial weights: nothing is downloaded) or, with ``--init``, from earlier weights
of our own — in stages (``--stages SIZE:EPOCHS[@LO-HI],...``: a curriculum, each stage resuming from the
previous one's best weights) and copies the best weights to models/. A stage with ``@LO-HI`` trains on
square windows of LO to HI px cut from the frames (3 in 4 images; ``synthsite.crop_window``), so a small
input sees people at the size a larger input shows them in a whole frame; ``--crops LO:HI`` gives that
window to every stage that names none. Each kind of data is drawn once (the k-th kind from ``--seed`` +
k). The model card (models/README.md) gives the recipes tried, their minutes on two CPU cores and how
they compare. Then the tool scores the model (at ``--score-imgsz``) on a fresh validation set of *every*
family, the left-out one included, writes the figures and the model's card next to the weights
(``<model>.json``) and deletes its work directory. The model only knows synthetic scenes: it is a demo,
not a safety device.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from synthsite import CLASSES, FAMILIES, HELD_OUT_FAMILY, TRAIN_FAMILIES, write_dataset

import sitewatch.daemon  # noqa: F401 - sets YOLO_OFFLINE / YOLO_AUTOINSTALL before Ultralytics loads

REPO = Path(__file__).resolve().parents[1]


def score(weights: Path, work: Path, imgsz: int, n: int, seed: int) -> dict[str, Any]:
    """mAP50 per class on ``n`` fresh images of each family (its own validation set each)."""
    from ultralytics import YOLO

    model = YOLO(str(weights))
    out: dict[str, Any] = {}
    for k, family in enumerate(FAMILIES):
        data = write_dataset(work / f"val-{family}", 0, n, seed=seed + 1000 + k, families=(family,))
        m = model.val(data=str(data), imgsz=imgsz, device="cpu", plots=False, verbose=False, batch=16)
        out[family] = {
            "mAP50": round(float(m.box.map50), 4),
            "mAP50-95": round(float(m.box.map), 4),
            "per_class_mAP50": {
                name: round(float(ap), 4) for name, ap in zip(m.names.values(), m.box.ap50, strict=False)
            },
        }
    return out


@dataclass(frozen=True)
class Stage:
    """One step of the curriculum: ``epochs`` at input ``imgsz``, on whole frames or (``crops``) on
    square windows of ``crops[0]`` to ``crops[1]`` px cut from them."""

    imgsz: int
    epochs: int
    crops: tuple[int, int] | None = None


def parse_stages(text: str) -> list[Stage]:
    """``"320:20@320-800,320:2"`` -> 20 epochs at 320 on windows of 320-800 px, then 2 on whole frames."""
    stages = []
    for part in text.split(","):
        head, _, window = part.partition("@")
        try:
            size, epochs = (int(v) for v in head.split(":"))
            crops = parse_crops(window.replace("-", ":")) if window else None
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(f"expected SIZE:EPOCHS[@LO-HI][,...], got {text!r}") from None
        stages.append(Stage(size, epochs, crops))
    if not stages or any(st.imgsz < 32 or st.imgsz % 32 or st.epochs < 1 for st in stages):
        raise argparse.ArgumentTypeError(f"sizes must be multiples of 32 and epochs >= 1: {text!r}")
    return stages


def parse_crops(text: str) -> tuple[int, int]:
    """``"320:800"`` -> (320, 800)."""
    try:
        lo, hi = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO:HI in pixels, got {text!r}") from None
    if not 32 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 32 <= LO <= HI, got {text!r}")
    return lo, hi


def train(args: argparse.Namespace, families: tuple[str, ...], work: Path) -> dict[str, Any]:
    """Draws the data under ``work``, runs the stages, copies the best weights to ``args.out`` and
    returns the report written beside them."""
    from ultralytics import YOLO

    started = time.time()
    # --crops is the window for every stage that names none; each kind of data is drawn once, the k-th
    # kind from seed + k (one kind: exactly the images earlier versions of this tool drew).
    stages = [st if st.crops or not args.crops else replace(st, crops=args.crops) for st in args.stages]
    datasets: dict[tuple[int, int] | None, Path] = {}
    for crops in dict.fromkeys(st.crops for st in stages):
        k = len(datasets)
        datasets[crops] = write_dataset(
            work / f"data{k or ''}", args.train, args.val, seed=args.seed + k, families=families, crops=crops
        )
    print(
        f"datasets: {len(datasets)} x {args.train} train / {args.val} val images "
        f"in {time.time() - started:.0f} s",
        flush=True,
    )
    weights = str(args.init) if args.init else "yolo11n.yaml"
    stage_minutes = []
    for k, st in enumerate(stages):
        t0 = time.time()
        last = k == len(stages) - 1
        resumed = bool(args.init) or k > 0
        model = YOLO(weights, task="detect")
        model.train(
            data=str(datasets[st.crops]), epochs=st.epochs, imgsz=st.imgsz, batch=args.batch, device="cpu",
            workers=2, project=str(work / "runs"), name=f"stage{k}", exist_ok=True, plots=False, amp=False,
            seed=args.seed, pretrained=resumed, warmup_epochs=0.5 if resumed else 3.0,
            close_mosaic=min(3, st.epochs - 1) if last else 0,
            patience=100, verbose=False, cache=True,
        )  # fmt: skip
        weights = str(work / "runs" / f"stage{k}" / "weights" / "best.pt")
        stage_minutes.append(round((time.time() - t0) / 60, 1))
        where = f"windows of {st.crops[0]}-{st.crops[1]} px" if st.crops else "whole frames"
        print(
            f"stage {k}: {st.epochs} epochs at {st.imgsz} on {where} in {stage_minutes[-1]} min", flush=True
        )
    trained_minutes = round((time.time() - started) / 60, 1)
    best = Path(weights)
    imgsz = stages[-1].imgsz
    scored_at = args.score_imgsz or imgsz
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(best, args.out)
    return {
        # the card sitewatch reads (daemon/modelcard.py): it warns when this model watches a real camera
        "card": {
            "domain": "synthetic",
            "scenes": f"workers drawn by tools/synthsite.py, style families {', '.join(families)}",
            "classes": list(CLASSES),
        },
        "families_trained": list(families),
        "family_left_out": HELD_OUT_FAMILY if HELD_OUT_FAMILY not in families else None,
        "stages": [
            {
                "imgsz": st.imgsz,
                "epochs": st.epochs,
                "crops": list(st.crops) if st.crops else None,
                "minutes": m,
            }
            for st, m in zip(stages, stage_minutes, strict=True)
        ],
        "imgsz": imgsz,
        "train_images": args.train,
        "init": str(args.init) if args.init else "yolo11n.yaml (random weights)",
        "minutes": trained_minutes,
        "scored_at": scored_at,
        "validation": score(args.out, work, scored_at, args.val, args.seed),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=1400)
    ap.add_argument("--val", type=int, default=150)
    ap.add_argument("--stages", type=parse_stages, default=parse_stages("320:20,480:5"),
                    help="SIZE:EPOCHS[@LO-HI],... in turn (@: on windows of LO-HI px); the last size is "
                         "the model's training size")  # fmt: skip
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--init", type=Path, help="start from these weights instead of random ones")
    ap.add_argument("--families", default=",".join(TRAIN_FAMILIES))
    ap.add_argument("--out", type=Path, default=REPO / "models" / "sitewatch-ppe-demo.pt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--crops", type=parse_crops, metavar="LO:HI",
                    help="train on square windows of LO to HI px cut from the frames (3 in 4 images): "
                         "people at the size a larger input shows them, at a small input's cost")  # fmt: skip
    ap.add_argument(
        "--score-imgsz", type=int, help="input size the families are scored at (default: the last stage's)"
    )
    ap.add_argument("--keep-work", action="store_true", help="keep the drawn data and Ultralytics' runs")
    args = ap.parse_args()
    families = tuple(args.families.split(","))
    unknown = set(families) - set(FAMILIES)
    if unknown:
        ap.error(f"unknown families {sorted(unknown)}; known: {sorted(FAMILIES)}")

    import ultralytics.utils.torch_utils

    # Ultralytics trains on the CPU with cpu_count - 1 threads (one, on two cores): use every core.
    ultralytics.utils.torch_utils.NUM_THREADS = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="sitewatch-train-"))
    try:
        report = train(args, families, work)
    finally:
        # the drawn images, their caches and Ultralytics' runs are means, not results (about 0.5 GB a run)
        if args.keep_work:
            print(f"work directory kept: {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
