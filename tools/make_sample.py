"""Builds samples/site.mp4, the clip the default config.toml and `sitewatch demo` watch: 30 s of the
synthetic construction site (tools/synthsite.py) at 10 fps, 640x384, with eight workers, some without
hard hats and some cutting through the restricted zone; its ground truth goes to
samples/site.mp4.truth.json (format in docs/eval.md).

    .venv/bin/python tools/make_sample.py [--out samples/site.mp4] [--seconds 30]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synthsite import make_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples" / "site.mp4")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    clip = make_clip(args.out, seconds=args.seconds, fps=10, workers=8, seed=3, crf=30)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB, {len(clip.truth['frames'])} frames)")


if __name__ == "__main__":
    main()
