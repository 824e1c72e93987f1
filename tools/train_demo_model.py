"""Trains the demo PPE model (models/sitewatch-ppe-demo.pt) on synthetic site images, on the CPU.

    .venv/bin/python tools/train_demo_model.py [--train 1500] [--epochs 14] [--imgsz 480] [--init PT]

Draws a YOLO dataset with tools/synthsite.py (classes person, hardhat, head) from the training style
families only (``TRAIN_FAMILIES``: the ``toon`` family is left out), trains Ultralytics' YOLO11n — from
its model YAML (random initial weights: nothing is downloaded) or, with ``--init``, from earlier weights
of our own — and copies the best weights to models/. Then it scores the model on a fresh validation set
of *every* family, the left-out one included, and writes the figures and the model's card next to the
weights (``<model>.json``). The model only knows synthetic scenes: it is a demo, not a safety device.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=1500)
    ap.add_argument("--val", type=int, default=150)
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--imgsz", type=int, default=480)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--init", type=Path, help="start from these weights instead of random ones")
    ap.add_argument("--families", default=",".join(TRAIN_FAMILIES))
    ap.add_argument("--out", type=Path, default=REPO / "models" / "sitewatch-ppe-demo.pt")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    families = tuple(args.families.split(","))
    unknown = set(families) - set(FAMILIES)
    if unknown:
        ap.error(f"unknown families {sorted(unknown)}; known: {sorted(FAMILIES)}")

    from ultralytics import YOLO

    work = Path(tempfile.mkdtemp(prefix="sitewatch-train-"))
    started = time.time()
    data = write_dataset(work / "data", args.train, args.val, seed=args.seed, families=families)
    print(f"dataset: {args.train} train / {args.val} val images in {time.time() - started:.0f} s", flush=True)
    model = YOLO(str(args.init) if args.init else "yolo11n.yaml", task="detect")
    model.train(
        data=str(data), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, device="cpu", workers=2,
        project=str(work / "runs"), name="ppe", exist_ok=True, plots=False, amp=False, seed=args.seed,
        pretrained=bool(args.init), close_mosaic=3, patience=100, verbose=False, cache=True,
    )  # fmt: skip
    trained_minutes = round((time.time() - started) / 60, 1)
    best = work / "runs" / "ppe" / "weights" / "best.pt"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(best, args.out)
    report = {
        # the card sitewatch reads (daemon/modelcard.py): it warns when this model watches a real camera
        "card": {
            "domain": "synthetic",
            "scenes": f"workers drawn by tools/synthsite.py, style families {', '.join(families)}",
            "classes": list(CLASSES),
        },
        "families_trained": list(families),
        "family_left_out": HELD_OUT_FAMILY if HELD_OUT_FAMILY not in families else None,
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "train_images": args.train,
        "init": str(args.init) if args.init else "yolo11n.yaml (random weights)",
        "minutes": trained_minutes,
        "validation": score(args.out, work, args.imgsz, args.val, args.seed),
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
