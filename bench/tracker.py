"""Tracker speed: our ByteTrack against Ultralytics' BYTETracker, side by side in one run.

    python bench/tracker.py [--frames 600]

For 10, 50 and 200 detections per frame (people walking across a 1920x1080 frame, with jitter and
misses) both trackers get the same frames, interleaved, so machine noise hits both alike. Prints the
mean and p99 time of one update and the ratio ours/theirs (lower is better).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from sitewatch.daemon.types import Detections  # importing daemon also sets YOLO_OFFLINE / YOLO_AUTOINSTALL
from sitewatch.trackers import ByteTracker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic_tracks import UltralyticsBoxes  # the test helpers, shared with the tests


def frames(n_objects: int, n_frames: int, seed: int = 0) -> list[tuple[float, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pos = np.stack([rng.uniform(0, 1880, n_objects), rng.uniform(0, 900, n_objects)], 1)
    vel = rng.uniform(-90, 90, (n_objects, 2))
    size = np.stack([rng.uniform(25, 45, n_objects), rng.uniform(70, 130, n_objects)], 1)
    out = []
    for k in range(n_frames):
        pos = (pos + vel / 30) % [1880, 900]
        seen = rng.random(n_objects) > 0.1
        xyxy = np.concatenate([pos, pos + size], 1)[seen] + rng.normal(0, 1.5, (int(seen.sum()), 4))
        out.append(
            (k / 30, xyxy.astype(np.float32), rng.uniform(0.3, 0.95, int(seen.sum())).astype(np.float32))
        )
    return out


def main() -> None:
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import IterableSimpleNamespace

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=600)
    args = ap.parse_args()
    print(
        f"{'dets/frame':>10} {'ours mean':>10} {'ours p99':>9} "
        f"{'ultra mean':>11} {'ultra p99':>10} {'ratio':>6}"
    )
    for n in (10, 50, 200):
        data = frames(round(n / 0.9), args.frames)
        ours = ByteTracker()
        ref = BYTETracker(
            IterableSimpleNamespace(
                track_high_thresh=0.5, track_low_thresh=0.1, new_track_thresh=0.6, track_buffer=60,
                match_thresh=0.8, fuse_score=True,
            )
        )  # fmt: skip
        t_ours, t_ref = [], []
        labels = np.array(["person"])
        for ts, xyxy, conf in data:
            dets = Detections(xyxy, conf, np.repeat(labels, len(conf)))
            boxes = UltralyticsBoxes(xyxy, conf)
            t0 = time.perf_counter()
            ours.update(dets, ts)
            t1 = time.perf_counter()
            ref.update(boxes)
            t2 = time.perf_counter()
            t_ours.append(t1 - t0)
            t_ref.append(t2 - t1)
        a, b = np.array(t_ours[30:]) * 1e3, np.array(t_ref[30:]) * 1e3  # skip warm-up
        print(
            f"{n:>10} {a.mean():>8.3f}ms {np.percentile(a, 99):>7.3f}ms {b.mean():>9.3f}ms "
            f"{np.percentile(b, 99):>8.3f}ms {a.mean() / b.mean():>6.2f}"
        )


if __name__ == "__main__":
    main()
