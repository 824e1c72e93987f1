"""A synthetic construction site: workers with and without hard hats, drawn with OpenCV, with exact
ground truth. A training-data tool, not part of the installed daemon: it trains the demo PPE model
(``tools/train_demo_model.py``), makes the shipped sample clip that ``sitewatch demo`` watches
(``tools/make_sample.py``), and the clips the tests score with ``sitewatch eval``.

Workers have a body, a head, optionally a hard hat in one of several colours and a hi-vis vest; they
walk at different speeds and scales across textured ground, cross and hide each other (drawn far to
near), enter and leave, and may take their hat off for a while. Frames get lighting changes and
sensor noise. Labels: ``person`` (the whole worker), ``hardhat`` (the hat), ``head`` (a bare head).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from sitewatch.daemon.geometry import points_in_polygon

CLASSES = ("person", "hardhat", "head")
HAT_COLOURS = [(0, 220, 255), (250, 250, 250), (0, 140, 255), (40, 40, 220), (200, 120, 20), (40, 200, 40)]
SKIN = [(150, 180, 225), (110, 145, 190), (70, 100, 140), (45, 70, 100)]
CLOTHES = [(90, 60, 40), (60, 60, 60), (40, 70, 110), (30, 100, 30), (120, 120, 130), (20, 20, 20)]
Image = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]


@dataclass
class Worker:
    """A worker walking in a straight line; ``height`` in pixels, speeds in pixels per second."""

    wid: int
    x: float
    y: float  # feet, at t0
    vx: float
    vy: float
    height: float
    t0: float
    t1: float
    skin: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    hat: tuple[int, int, int] | None
    vest: bool
    hat_off: tuple[float, float] | None = None  # seconds during which the hat is in their hand

    def feet(self, t: float) -> tuple[float, float]:
        return self.x + self.vx * (t - self.t0), self.y + self.vy * (t - self.t0)

    def wears_hat(self, t: float) -> bool:
        return self.hat is not None and not (self.hat_off and self.hat_off[0] <= t < self.hat_off[1])

    def present(self, t: float) -> bool:
        return self.t0 <= t < self.t1

    def boxes(self, t: float) -> dict[str, Box]:
        """Unclipped boxes: person, and hardhat or head."""
        fx, fy = self.feet(t)
        h = self.height
        r = 0.085 * h
        top = fy - h
        hx, hy = fx, top + r
        out: dict[str, Box] = {}
        if self.wears_hat(t):
            hat = (hx - 1.3 * r, hy - 1.45 * r, hx + 1.3 * r, hy - 0.05 * r)
            out["hardhat"] = hat
            person_top = hat[1]
        else:
            out["head"] = (hx - r, hy - r, hx + r, hy + r)
            person_top = hy - r
        out["person"] = (fx - 0.21 * h, person_top, fx + 0.21 * h, fy)
        return out

    def draw(self, img: Image, t: float) -> None:
        fx, fy = self.feet(t)
        h = self.height
        r = 0.085 * h
        top = fy - h
        hx, hy = fx, top + r
        lw = max(2, int(0.07 * h))
        phase = np.sin(2 * np.pi * 1.6 * (t - self.t0)) if abs(self.vx) + abs(self.vy) > 5 else 0.0
        hip = (fx, top + 0.55 * h)
        for side in (-1, 1):
            foot = (fx + side * 0.1 * h * phase, fy)
            cv2.line(img, _pt(hip), _pt(foot), self.pants, lw + 1, cv2.LINE_AA)
        shoulder_y = top + 2.2 * r
        cv2.rectangle(img, _pt((fx - 0.17 * h, shoulder_y)), _pt((fx + 0.17 * h, hip[1])), self.shirt, -1)
        if self.vest:
            vest = (0, 165, 255) if self.wid % 2 else (0, 230, 230)
            cv2.rectangle(
                img, _pt((fx - 0.15 * h, shoulder_y + 2)), _pt((fx + 0.15 * h, hip[1] - 2)), vest, -1
            )
            y = shoulder_y + 0.6 * (hip[1] - shoulder_y)
            cv2.line(img, _pt((fx - 0.15 * h, y)), _pt((fx + 0.15 * h, y)), (220, 220, 220), max(1, lw // 2))
        for side in (-1, 1):
            hand = (fx + side * 0.2 * h, shoulder_y + 0.3 * h - side * 0.05 * h * phase)
            cv2.line(img, _pt((fx + side * 0.16 * h, shoulder_y + 2)), _pt(hand), self.shirt, lw, cv2.LINE_AA)
        cv2.circle(img, _pt((hx, hy)), max(2, int(r)), self.skin, -1, cv2.LINE_AA)
        if self.wears_hat(t):
            assert self.hat is not None
            cv2.ellipse(img, _pt((hx, hy - 0.25 * r)), (max(2, int(1.15 * r)), max(2, int(1.15 * r))), 0, 180,
                        360, self.hat, -1, cv2.LINE_AA)  # fmt: skip
            cv2.line(img, _pt((hx - 1.3 * r, hy - 0.25 * r)), _pt((hx + 1.3 * r, hy - 0.25 * r)), self.hat,
                     max(2, int(0.3 * r)), cv2.LINE_AA)  # fmt: skip
        elif self.hat is not None and self.hat_off:  # carried in the hand
            cv2.circle(img, _pt((fx + 0.2 * h, shoulder_y + 0.3 * h)), max(2, int(0.9 * r)), self.hat, -1)


def _pt(p: tuple[float, float]) -> tuple[int, int]:
    return round(p[0]), round(p[1])


def background(rng: np.random.Generator, size: tuple[int, int]) -> Image:
    """Ground with gravel texture, a horizon band, stacked materials and a machine or two."""
    w, h = size
    base = np.array(rng.integers(60, 170, 3), np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    img += rng.normal(0, 12, (h, w, 1)).astype(np.float32)  # gravel
    coarse = cv2.resize(rng.normal(0, 18, (h // 16 + 1, w // 16 + 1, 3)).astype(np.float32), (w, h))
    img += coarse
    horizon = int(h * rng.uniform(0.15, 0.3))
    img[:horizon] = np.array(rng.integers(120, 230, 3), np.float32)  # sky or a wall
    out = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):  # pallets, containers, machinery
        x, y = int(rng.integers(0, w)), int(rng.integers(horizon - 20, h))
        bw, bh = int(rng.integers(20, 120)), int(rng.integers(10, 60))
        colour = tuple(int(c) for c in rng.integers(30, 220, 3))
        cv2.rectangle(out, (x, y - bh), (x + bw, y), colour, -1)
        cv2.rectangle(out, (x, y - bh), (x + bw, y), (20, 20, 20), 1)
    return out


def random_worker(rng: np.random.Generator, wid: int, size: tuple[int, int], t0: float, t1: float) -> Worker:
    w, h = size
    height = float(rng.uniform(0.18, 0.55) * h)
    hat = HAT_COLOURS[int(rng.integers(len(HAT_COLOURS)))] if rng.random() < 0.6 else None
    return Worker(
        wid=wid,
        x=float(rng.uniform(0.05, 0.95) * w),
        y=float(rng.uniform(0.45, 0.98) * h),
        vx=float(rng.uniform(-60, 60)),
        vy=float(rng.uniform(-10, 10)),
        height=height,
        t0=t0,
        t1=t1,
        skin=SKIN[int(rng.integers(len(SKIN)))],
        shirt=CLOTHES[int(rng.integers(len(CLOTHES)))],
        pants=CLOTHES[int(rng.integers(len(CLOTHES)))],
        hat=hat,
        vest=bool(rng.random() < 0.5),
    )


def render(bg: Image, workers: list[Worker], t: float, rng: np.random.Generator, light: float = 1.0,
           noise: float = 4.0) -> Image:  # fmt: skip
    img = bg.copy()
    for wk in sorted((w for w in workers if w.present(t)), key=lambda w: w.feet(t)[1]):  # far to near
        wk.draw(img, t)
    out = img.astype(np.float32) * light + rng.normal(0, noise, img.shape).astype(np.float32)
    return np.asarray(np.clip(out, 0, 255), np.uint8)


def visible_labels(workers: list[Worker], t: float, size: tuple[int, int]) -> list[tuple[int, int, Box]]:
    """(class id, worker id, box clipped to the frame) for everything at least partly visible. Parts
    hidden behind a nearer worker stay labelled while most of them shows."""
    w, h = size
    out = []
    present = sorted((wk for wk in workers if wk.present(t)), key=lambda wk: wk.feet(t)[1])
    for i, wk in enumerate(present):
        nearer = [o.boxes(t)["person"] for o in present[i + 1 :]]
        for name, (x1, y1, x2, y2) in wk.boxes(t).items():
            cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
            area = (x2 - x1) * (y2 - y1)
            if cx2 - cx1 < 3 or cy2 - cy1 < 3 or (cx2 - cx1) * (cy2 - cy1) < 0.4 * area:
                continue
            if name != "person" and _hidden((cx1, cy1, cx2, cy2), nearer) > 0.5:
                continue
            out.append((CLASSES.index(name), wk.wid, (cx1, cy1, cx2, cy2)))
    return out


def _hidden(box: Box, covers: list[Box]) -> float:
    x1, y1, x2, y2 = box
    area = max(1e-6, (x2 - x1) * (y2 - y1))
    hidden = 0.0
    for a1, b1, a2, b2 in covers:
        iw, ih = min(x2, a2) - max(x1, a1), min(y2, b2) - max(y1, b1)
        if iw > 0 and ih > 0:
            hidden = max(hidden, iw * ih / area)
    return hidden


# --- training data --------------------------------------------------------------------------------------


def write_dataset(
    root: Path, n_train: int, n_val: int, size: tuple[int, int] = (640, 384), seed: int = 0
) -> Path:
    """YOLO-format images and labels under ``root``; returns the dataset YAML for Ultralytics."""
    rng = np.random.default_rng(seed)
    w, h = size
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            workers = [random_worker(rng, k + 1, size, 0.0, 1.0) for k in range(int(rng.integers(1, 8)))]
            for wk in workers:
                if wk.hat is not None and rng.random() < 0.15:
                    wk.hat_off = (0.0, 1.0)  # hat in hand
            t = float(rng.uniform(0, 0.99))
            img = render(background(rng, size), workers, t, rng, light=float(rng.uniform(0.6, 1.3)),
                         noise=float(rng.uniform(0, 8)))  # fmt: skip
            if rng.random() < 0.3:
                img = np.asarray(cv2.GaussianBlur(img, (3, 3), 0), np.uint8)
            cv2.imwrite(str(root / "images" / split / f"{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            lines = [
                f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
                for cls, _, (x1, y1, x2, y2) in visible_labels(workers, t, size)
            ]
            (root / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    yaml = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASSES))
    yaml.write_text(f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return yaml


# --- demo clips with ground truth ---------------------------------------------------------------------

DEMO_ZONE = [[0.62, 0.45], [0.98, 0.45], [0.98, 0.98], [0.62, 0.98]]


@dataclass
class Clip:
    path: Path
    truth: dict[str, Any] = field(default_factory=dict)


def demo_workers(rng: np.random.Generator, size: tuple[int, int], seconds: float, n: int) -> list[Worker]:
    """``n`` workers who walk across, a third without a hard hat, one who takes it off for a while,
    some who cut through the restricted zone (right side)."""
    w, h = size
    workers = []
    for k in range(n):
        t0 = float(rng.uniform(0, seconds * 0.5))
        speed = float(rng.uniform(35, 80))
        leftwards = k % 2 == 1
        height = float(rng.uniform(0.3, 0.5) * h)
        y = float(rng.uniform(0.62, 0.95) * h)
        x0 = w + 0.25 * height if leftwards else -0.25 * height
        vx = -speed if leftwards else speed
        t1 = min(seconds, t0 + (w + 0.5 * height) / speed)
        hat = None if k % 3 == 2 else HAT_COLOURS[k % len(HAT_COLOURS)]
        wk = Worker(k + 1, x0, y, vx, 0.0, height, t0, t1, SKIN[k % len(SKIN)], CLOTHES[k % len(CLOTHES)],
                    CLOTHES[(k + 2) % len(CLOTHES)], hat, bool(k % 2))  # fmt: skip
        if hat is not None and k == 0:
            mid = (t0 + t1) / 2
            wk.hat_off = (mid - 3.0, mid + 3.0)
        workers.append(wk)
    return workers


def make_clip(path: Path, seconds: float = 60.0, fps: int = 10, workers: int = 8, seed: int = 7,
              size: tuple[int, int] = (640, 384), crf: int = 20) -> Clip:  # fmt: skip
    """Write the demo clip and its ground truth (``<clip>.truth.json``, format in docs/eval.md)."""
    from videos import write_video

    rng = np.random.default_rng(seed)
    bg = background(rng, size)
    crew = demo_workers(rng, size, seconds, workers)
    n = int(seconds * fps)
    zone_px = np.array(DEMO_ZONE, np.float32) * np.array(size, np.float32)
    frames_truth: list[list[dict[str, Any]]] = []
    light = 1.0 + 0.15 * np.sin(np.linspace(0, 3 * np.pi, n))  # clouds passing

    def frames() -> Iterator[Image]:
        for i in range(n):
            t = i / fps
            people = []
            for wk in crew:
                box = wk.boxes(t)["person"]
                if wk.present(t) and _in_frame(box, size):
                    feet = np.array([wk.feet(t)], np.float32)
                    people.append({"id": wk.wid, "box": [round(v, 1) for v in box], "hat": wk.wears_hat(t),
                                   "in_zone": bool(points_in_polygon(feet, zone_px)[0])})  # fmt: skip
            frames_truth.append(people)
            yield render(bg, crew, t, rng, light=float(light[i]), noise=3.0)

    write_video(path, frames(), fps=fps, crf=crf)
    truth = {
        "version": 1,
        "fps": fps,
        "size": list(size),
        "zones": {"restricted": DEMO_ZONE},
        "frames": frames_truth,
        "violations": _intervals(frames_truth, fps),
    }
    Path(str(path) + ".truth.json").write_text(json.dumps(truth))
    return Clip(path, truth)


def _in_frame(box: Box, size: tuple[int, int]) -> bool:
    x1, _, x2, _ = box
    return min(x2, size[0]) - max(x1, 0) > 0.6 * (x2 - x1)


def _intervals(frames: list[list[dict[str, Any]]], fps: int) -> list[dict[str, Any]]:
    """Per worker and condition, the [start, end] seconds it held (frame-exact)."""
    spans: dict[tuple[int, str], list[list[float]]] = {}
    for i, people in enumerate(frames):
        t = i / fps
        for p in people:
            for cond, holds in (("no_hardhat", not p["hat"]), ("zone:restricted", p["in_zone"])):
                if not holds:
                    continue
                runs = spans.setdefault((p["id"], cond), [])
                if runs and t - runs[-1][1] <= 1.5 / fps:
                    runs[-1][1] = t
                else:
                    runs.append([t, t])
    return [{"worker": w, "condition": c, "start": round(a, 3), "end": round(b, 3)}
            for (w, c), runs in sorted(spans.items()) for a, b in runs]  # fmt: skip
