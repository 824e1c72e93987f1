"""Builds samples/bus-pan.mp4, the clip the default config.toml watches: a camera panning across
Ultralytics' bus.jpg and zidane.jpg photos side by side (real people entering and leaving the picture),
16 s at 10 fps, 640x480, resting at each end of the sweep.

    python tools/make_sample.py [--out samples/bus-pan.mp4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from daemon.samples import pan, street_canvas, write_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples" / "bus-pan.mp4"
    )
    args = ap.parse_args()
    n = write_video(args.out, pan(street_canvas(), size=(640, 480), seconds=16, fps=10, hold=0.5), fps=10)
    print(f"wrote {args.out} ({n} frames, {args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
