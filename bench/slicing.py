"""What slicing costs and what it buys: the demo model on wide frames with distant workers, whole frame
against tiles, side by side in one run.

    python bench/slicing.py [--images 24] [--imgsz 320] [--size 1280x720] [--family toon]

Draws ``--images`` still frames of a synthetic-site style family (tools/synthsite.py; ``toon`` is
the one the demo model never saw) with 1-8 small workers (7-20 % of the frame height: heads 9-25 px at
720 p), runs the demo model on each configuration in turn over the same frames, and prints per
configuration: the inferences per frame, frames per second, the ratio to the whole-frame run, and
recall and precision per
class at IoU 0.5 against the generator's exact labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from boxscore import recall_precision  # noqa: E402
from synthsite import FAMILIES, dataset_image  # noqa: E402

from sitewatch.daemon.config import ModelConfig  # noqa: E402
from sitewatch.daemon.detectors import create_detector  # noqa: E402
from sitewatch.daemon.resources import DEMO_MODEL, packaged  # noqa: E402
from sitewatch.daemon.types import Frame  # noqa: E402

CONFIGS = [  # name, tiles, full frame too, input size as a multiple of --imgsz
    ("whole frame", (1, 1), False, 1),
    ("whole frame, 2x size", (1, 1), False, 2),
    ("2x1 tiles + frame", (2, 1), True, 1),
    ("2x2 tiles + frame", (2, 2), True, 1),
    ("3x2 tiles + frame", (3, 2), True, 1),
]


def small_worker_frames(n: int, size: tuple[int, int], family: str, seed: int = 0) -> list[Any]:
    """``n`` frames of small workers (7-20 % of the frame height) and their labels."""
    rng = np.random.default_rng(seed)
    return [dataset_image(rng, FAMILIES[family], size, heights=(0.07, 0.2)) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--family", default="toon", choices=sorted(FAMILIES))
    ap.add_argument("--model", default=str(packaged(DEMO_MODEL)))
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    data = small_worker_frames(args.images, (w, h), args.family)
    frames = [Frame("wide", i, i / 10, img) for i, (img, _) in enumerate(data)]
    truth = [labels for _, labels in data]
    print(
        f"{args.images} frames {w}x{h} ({args.family}), model {Path(args.model).name} at imgsz {args.imgsz}"
    )
    head = f"{'configuration':<20} {'inferences/frame':>16} {'frames/s':>9} {'vs whole':>9}"
    print(head, " recall/precision per class")
    base = None
    for name, grid, full, scale in CONFIGS:
        det = create_detector(ModelConfig(path=args.model, imgsz=args.imgsz * scale, device="cpu", tiles=grid,
                                          tile_full_frame=full))  # fmt: skip
        det.detect(frames[:1])  # warm-up
        started = time.perf_counter()
        found = [det.detect([f])[0] for f in frames]
        fps = len(frames) / (time.perf_counter() - started)
        base = base or fps
        per = recall_precision(found, truth)
        cells = "  ".join(f"{c} {r:.2f}/{p:.2f}" for c, (r, p) in per.items())
        print(f"{name:<20} {grid[0] * grid[1] + int(full):>16} {fps:>9.2f} {fps / base:>8.2f}x  {cells}")


if __name__ == "__main__":
    main()
