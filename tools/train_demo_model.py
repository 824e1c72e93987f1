"""Trains the demo PPE model (models/sitewatch-ppe-demo.pt) on synthetic site images, on the CPU.

    .venv/bin/python tools/train_demo_model.py [--train 800] [--val 200] [--epochs 15] [--imgsz 384]

Generates a YOLO dataset with tools/synthsite.py (classes person, hardhat, head), trains Ultralytics'
YOLO11n from its model YAML (random initial weights: nothing is downloaded), and copies the best
weights to models/. About 35 minutes on two CPU cores with the defaults. The model only knows the
synthetic scenes: it is a demo, not a safety device.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from synthsite import CLASSES, write_dataset

import sitewatch.daemon  # noqa: F401 - sets YOLO_OFFLINE / YOLO_AUTOINSTALL before Ultralytics loads

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=1200)
    ap.add_argument("--val", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--out", type=Path, default=REPO / "models" / "sitewatch-ppe-demo.pt")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from ultralytics import YOLO

    work = Path(tempfile.mkdtemp(prefix="sitewatch-train-"))
    started = time.time()
    data = write_dataset(work / "data", args.train, args.val, seed=args.seed)
    print(f"dataset: {args.train} train / {args.val} val images in {time.time() - started:.0f} s", flush=True)
    model = YOLO("yolo11n.yaml", task="detect")
    model.train(
        data=str(data), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, device="cpu", workers=2,
        project=str(work / "runs"), name="ppe", exist_ok=True, plots=False, amp=False, seed=args.seed,
        pretrained=False, close_mosaic=3, patience=100, verbose=False, cache=True,
    )  # fmt: skip
    best = work / "runs" / "ppe" / "weights" / "best.pt"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(best, args.out)
    metrics = YOLO(str(args.out)).val(
        data=str(data), imgsz=args.imgsz, device="cpu", plots=False, verbose=False
    )
    report = {
        # the card sitewatch reads (daemon/modelcard.py): it warns when this model watches a real camera
        "card": {"domain": "synthetic", "scenes": "stick-figure workers drawn by tools/synthsite.py",
                 "classes": list(CLASSES)},
        "mAP50": round(float(metrics.box.map50), 4),
        "mAP50-95": round(float(metrics.box.map), 4),
        "per_class_mAP50": dict(zip(metrics.names.values(), (round(float(a), 4) for a in metrics.box.ap50),
                                    strict=False)),
        "epochs": args.epochs, "imgsz": args.imgsz, "train_images": args.train, "val_images": args.val,
        "minutes": round((time.time() - started) / 60, 1),
    }  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
