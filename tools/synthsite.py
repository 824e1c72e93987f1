"""A synthetic construction site: workers with and without hard hats, drawn with OpenCV, with exact
ground truth. A training-data tool, not part of the installed daemon: it trains the demo PPE model
(``tools/train_demo_model.py``), makes the shipped sample clip that ``sitewatch demo`` watches
(``tools/make_sample.py``), and the clips the tests and the model card score with ``sitewatch eval``.

Workers have a body, a head, optionally a hard hat and a hi-vis vest; they walk at different speeds and
scales, cross and hide each other (drawn far to near), enter and leave, and may take their hat off for
a while. Labels: ``person`` (the whole worker), ``hardhat`` (a hat being worn), ``head`` (a bare head).

Scenes come in *style families* (``FAMILIES``), each a way of drawing people and a kind of background,
so a model can be trained on some and judged on one it never saw (leave-one-family-out):

- ``flat``: flat-coloured stick figures on gravel (the original style; the shipped sample clip);
- ``round``: rounded, shaded figures on concrete slabs with pipes and barrels;
- ``photo``: either figure over real photographs that ship inside installed packages (scikit-image's
  and scikit-learn's sample images), which also serve as hard negatives: photo patches in scenes and
  photo frames with nobody in them;
- ``toon``: outlined, cel-shaded figures with peaked helmets on an asphalt yard with lane markings,
  scaffolding and cones. **Left out of the demo model's training**: its clips measure generalisation.

Within a family everything is randomised: body build, head size, hat shape (dome, wide brim, peak),
arm pose, camera height (people shrink towards the horizon), lighting, blur, sensor noise, frame size
up to 1280 px, and clutter that looks like hats or heads but is not on anyone (hats on the ground,
cones, balls, photo patches). The training families' grounds are also sometimes darkened (asphalt,
shade) or painted (lines, dashes, hazard stripes), and a quarter of their workers wear the colours of
the ground they stand on (``widen_ground``, ``blend_clothes``); the left-out family is drawn without
this widening (``Family.fixed``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
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
HAIR = [(20, 20, 25), (30, 45, 70), (60, 90, 130), (120, 170, 200), (170, 170, 170)]
CLOTHES = [(90, 60, 40), (60, 60, 60), (40, 70, 110), (30, 100, 30), (120, 120, 130), (20, 20, 20)]
Image = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]
Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Look:
    """How one worker is drawn. The defaults are the original flat stick figure (``flat`` family).

    ``head`` is the head radius as a share of the height; the hat is a dome of ``dome`` x ``dome_h``
    head radii over a brim reaching ``brim_l`` / ``brim_r`` radii left and right of the head's centre
    (a peaked helmet has one long side). ``arms``: "swing", "raised" (one arm up, inside the box) or
    "akimbo"."""

    figure: str = "flat"  # flat | round | toon
    build: float = 0.17  # torso half-width / height
    head: float = 0.085
    dome: float = 1.15
    dome_h: float = 1.15
    brim_l: float = 1.3
    brim_r: float = 1.3
    arms: str = "swing"
    outline: Colour = (25, 25, 25)

    def hat_box(self, hx: float, hy: float, r: float) -> Box:
        cy = hy - 0.25 * r
        return (
            hx - max(self.dome, self.brim_l) * r,
            cy - self.dome_h * r - 0.05 * r,
            hx + max(self.dome, self.brim_r) * r,
            cy + 0.2 * r,
        )


def random_skin(rng: np.random.Generator) -> Colour:
    """Any skin tone from very pale to very dark (BGR), not only the four of ``SKIN``."""
    pale, dark = np.array((185, 205, 245), np.float32), np.array((35, 55, 85), np.float32)
    tone = pale + float(rng.uniform(0, 1)) * (dark - pale) + rng.normal(0, 8, 3)
    return tuple(int(c) for c in np.clip(tone, 0, 255))  # type: ignore[return-value]


def random_look(rng: np.random.Generator, figure: str) -> Look:
    """A randomised look for a figure style (the ``toon`` family's helmets are always peaked)."""
    shape = int(rng.integers(3)) if figure != "toon" else 2
    brim_l, brim_r, dome_h = [(1.3, 1.3, 1.15), (1.7, 1.7, 1.0), (1.15, 1.75, 1.25)][shape]
    if rng.random() < 0.5:
        brim_l, brim_r = brim_r, brim_l
    return Look(
        figure=figure,
        build=float(rng.uniform(0.13, 0.2)),
        head=float(rng.uniform(0.075, 0.095)),
        dome=float(rng.uniform(1.05, 1.2)),
        dome_h=dome_h * float(rng.uniform(0.9, 1.15)),
        brim_l=brim_l,
        brim_r=brim_r,
        arms=("swing", "swing", "raised", "akimbo")[int(rng.integers(4))],
        outline=tuple(int(c) for c in rng.integers(0, 60, 3)),  # type: ignore[arg-type]
    )


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
    skin: Colour
    shirt: Colour
    pants: Colour
    hat: Colour | None
    vest: bool
    hat_off: tuple[float, float] | None = None  # seconds during which the hat is in their hand
    look: Look = field(default_factory=Look)
    hair: Colour | None = None  # over the top of a bare head (never drawn under a hat)
    eyes: bool = False  # two dots on the face (the ``toon`` figure always has them)

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
        r = self.look.head * h
        top = fy - h
        hx, hy = fx, top + r
        out: dict[str, Box] = {}
        if self.wears_hat(t):
            hat = self.look.hat_box(hx, hy, r)
            out["hardhat"] = hat
            person_top = hat[1]
        else:
            out["head"] = (hx - r, hy - r, hx + r, hy + r)
            person_top = hy - r
        out["person"] = (fx - 0.21 * h, person_top, fx + 0.21 * h, fy)
        return out

    def draw(self, img: Image, t: float) -> None:
        if self.look.figure == "flat":
            self._draw_flat(img, t)
        else:
            self._draw_shaped(img, t)

    def _phase(self, t: float) -> float:
        return float(np.sin(2 * np.pi * 1.6 * (t - self.t0))) if abs(self.vx) + abs(self.vy) > 5 else 0.0

    def _draw_flat(self, img: Image, t: float) -> None:
        fx, fy = self.feet(t)
        h = self.height
        r = self.look.head * h
        top = fy - h
        hx, hy = fx, top + r
        lw = max(2, int(0.07 * h))
        phase = self._phase(t)
        hip = (fx, top + 0.55 * h)
        for side in (-1, 1):
            foot = (fx + side * 0.1 * h * phase, fy)
            cv2.line(img, _pt(hip), _pt(foot), self.pants, lw + 1, cv2.LINE_AA)
        shoulder_y = top + 2.2 * r
        b = self.look.build
        cv2.rectangle(img, _pt((fx - b * h, shoulder_y)), _pt((fx + b * h, hip[1])), self.shirt, -1)
        if self.vest:
            vest = (0, 165, 255) if self.wid % 2 else (0, 230, 230)
            vb = b - 0.02
            cv2.rectangle(img, _pt((fx - vb * h, shoulder_y + 2)), _pt((fx + vb * h, hip[1] - 2)), vest, -1)
            y = shoulder_y + 0.6 * (hip[1] - shoulder_y)
            cv2.line(img, _pt((fx - vb * h, y)), _pt((fx + vb * h, y)), (220, 220, 220), max(1, lw // 2))
        for side, hand in self._hands(fx, shoulder_y, h, phase):
            cv2.line(
                img, _pt((fx + side * (b - 0.01) * h, shoulder_y + 2)), _pt(hand), self.shirt, lw, cv2.LINE_AA
            )
        cv2.circle(img, _pt((hx, hy)), max(2, int(r)), self.skin, -1, cv2.LINE_AA)
        self._draw_face(img, t, hx, hy, r)
        self._draw_hat(img, t, hx, hy, r, fx, shoulder_y, h, outline=None)

    def _draw_face(self, img: Image, t: float, hx: float, hy: float, r: float) -> None:
        """Hair and eyes, where this worker has them: heads vary as much as hats do."""
        if self.hair is not None and not self.wears_hat(t):
            cv2.ellipse(img, _pt((hx, hy - 0.1 * r)), (max(2, int(1.02 * r)), max(2, int(r))), 0, 180, 360,
                        self.hair, -1, cv2.LINE_AA)  # fmt: skip
        if self.eyes and r >= 4:
            for side in (-1, 1):
                cv2.circle(
                    img, _pt((hx + side * 0.35 * r, hy + 0.05 * r)), max(1, int(0.12 * r)), (20, 20, 20), -1
                )

    def _hands(
        self, fx: float, shoulder_y: float, h: float, phase: float
    ) -> list[tuple[int, tuple[float, float]]]:
        out = []
        for side in (-1, 1):
            if self.look.arms == "raised" and side == 1:
                hand = (fx + 0.19 * h, shoulder_y - 0.12 * h)
            elif self.look.arms == "akimbo":
                hand = (fx + side * 0.205 * h, shoulder_y + 0.18 * h)
            else:
                hand = (fx + side * 0.2 * h, shoulder_y + 0.3 * h - side * 0.05 * h * phase)
            out.append((side, hand))
        return out

    def _draw_hat(
        self,
        img: Image,
        t: float,
        hx: float,
        hy: float,
        r: float,
        fx: float,
        shoulder_y: float,
        h: float,
        outline: Colour | None,
    ) -> None:
        lk = self.look
        if self.wears_hat(t):
            assert self.hat is not None
            cy = hy - 0.25 * r
            axes = (max(2, int(lk.dome * r)), max(2, int(lk.dome_h * r)))
            brim = (_pt((hx - lk.brim_l * r, cy)), _pt((hx + lk.brim_r * r, cy)))
            thick = max(2, int(0.3 * r))
            if outline is not None:
                cv2.ellipse(
                    img, _pt((hx, cy)), (axes[0] + 1, axes[1] + 1), 0, 180, 360, outline, -1, cv2.LINE_AA
                )
                cv2.line(img, *brim, outline, thick + 2, cv2.LINE_AA)
            cv2.ellipse(img, _pt((hx, cy)), axes, 0, 180, 360, self.hat, -1, cv2.LINE_AA)
            cv2.line(img, *brim, self.hat, thick, cv2.LINE_AA)
            if lk.figure != "flat":  # a highlight and a ridge
                shade = tuple(min(255, int(c * 0.7 + 80)) for c in self.hat)
                cv2.ellipse(
                    img,
                    _pt((hx - 0.35 * r, cy - 0.55 * lk.dome_h * r)),
                    (max(1, int(0.3 * r)), max(1, int(0.18 * r))),
                    -20,
                    0,
                    360,
                    shade,
                    -1,
                )
        elif self.hat is not None and self.hat_off:  # carried in the hand
            hand = self._hands(fx, shoulder_y, h, 0.0)[1][1]
            cv2.ellipse(
                img, _pt(hand), (max(2, int(lk.dome * r)), max(2, int(0.8 * r))), 0, 0, 360, self.hat, -1
            )

    def _draw_shaped(self, img: Image, t: float) -> None:
        """``round``: capsule limbs, an elliptic shaded torso. ``toon``: dark outlines around every part,
        a trapezoid torso with two-tone (cel) shading, boots and gloves."""
        lk = self.look
        toon = lk.figure == "toon"
        fx, fy = self.feet(t)
        h = self.height
        r = lk.head * h
        top = fy - h
        hx, hy = fx, top + r
        lw = max(2, int(0.075 * h))
        phase = self._phase(t)
        hip_y = top + 0.55 * h
        shoulder_y = top + 2.2 * r
        b = lk.build
        ol = lk.outline if toon else None
        o = max(1, int(0.012 * h)) if toon else 0

        def limb(a: tuple[float, float], z: tuple[float, float], colour: Colour, width: int) -> None:
            if ol is not None:
                cv2.line(img, _pt(a), _pt(z), ol, width + 2 * o, cv2.LINE_AA)
            cv2.line(img, _pt(a), _pt(z), colour, width, cv2.LINE_AA)

        for side in (-1, 1):
            foot = (fx + side * 0.1 * h * phase, fy - 0.02 * h)
            limb((fx + side * 0.05 * h, hip_y), foot, self.pants, lw + 1)
            if toon:  # boots
                cv2.ellipse(
                    img,
                    _pt((foot[0] + side * 0.02 * h, fy - 0.02 * h)),
                    (max(2, int(0.04 * h)), max(1, int(0.02 * h))),
                    0,
                    0,
                    360,
                    (30, 40, 60),
                    -1,
                )
        if toon:
            torso = np.array(
                [
                    _pt((fx - b * h, shoulder_y)),
                    _pt((fx + b * h, shoulder_y)),
                    _pt((fx + 0.8 * b * h, hip_y)),
                    _pt((fx - 0.8 * b * h, hip_y)),
                ],
                np.int32,
            )
            cv2.fillPoly(img, [torso], ol or (0, 0, 0))
            inner = torso + np.array([[o, o], [-o, o], [-o, -o], [o, -o]], np.int32)
            fill = (0, 165, 255) if self.vest and self.wid % 2 else (0, 230, 230) if self.vest else self.shirt
            cv2.fillPoly(img, [inner], fill)
            dark = tuple(int(c * 0.6) for c in fill)
            half = inner.copy()
            half[0, 0] = half[3, 0] = int(fx)
            cv2.fillPoly(img, [np.array([half[0], inner[1], inner[2], half[3]], np.int32)], dark)
            if self.vest:
                y = int(shoulder_y + 0.55 * (hip_y - shoulder_y))
                cv2.line(
                    img,
                    (int(fx - 0.85 * b * h), y),
                    (int(fx + 0.85 * b * h), y),
                    (230, 230, 230),
                    max(1, lw // 2),
                )
        else:
            centre = _pt((fx, (shoulder_y + hip_y) / 2))
            axes = (max(2, int(b * h)), max(2, int((hip_y - shoulder_y) / 2 + 0.02 * h)))
            fill = ((0, 165, 255) if self.wid % 2 else (0, 230, 230)) if self.vest else self.shirt
            cv2.ellipse(img, centre, axes, 0, 0, 360, tuple(int(c * 0.75) for c in fill), -1, cv2.LINE_AA)
            cv2.ellipse(
                img,
                (centre[0] - axes[0] // 5, centre[1]),
                (max(1, int(axes[0] * 0.75)), axes[1] - 1),
                0,
                0,
                360,
                fill,
                -1,
                cv2.LINE_AA,
            )
            if self.vest:
                y = int(shoulder_y + 0.6 * (hip_y - shoulder_y))
                cv2.line(
                    img,
                    (centre[0] - axes[0] + 2, y),
                    (centre[0] + axes[0] - 2, y),
                    (220, 220, 220),
                    max(1, lw // 2),
                )
        for side, hand in self._hands(fx, shoulder_y, h, phase):
            limb((fx + side * (b - 0.02) * h, shoulder_y + 0.02 * h), hand, self.shirt, lw)
            cv2.circle(img, _pt(hand), max(1, int(0.025 * h)), (40, 60, 80) if toon else self.skin, -1)
        if ol is not None:
            cv2.ellipse(img, _pt((hx, hy)), (int(r) + o, int(1.1 * r) + o), 0, 0, 360, ol, -1, cv2.LINE_AA)
        cv2.ellipse(
            img, _pt((hx, hy)), (max(2, int(r)), max(2, int(1.1 * r))), 0, 0, 360, self.skin, -1, cv2.LINE_AA
        )
        if not toon:  # shading on the far side of the face
            cv2.ellipse(
                img,
                _pt((hx + 0.3 * r, hy)),
                (max(1, int(0.6 * r)), max(1, int(r))),
                0,
                -90,
                90,
                tuple(int(c * 0.8) for c in self.skin),
                -1,
            )
            self._draw_face(img, t, hx, hy, r)
        else:  # eyes
            for side in (-1, 1):
                cv2.circle(
                    img, _pt((hx + side * 0.35 * r, hy - 0.05 * r)), max(1, int(0.12 * r)), (20, 20, 20), -1
                )
        self._draw_hat(img, t, hx, hy, r, fx, shoulder_y, h, outline=ol)


def _pt(p: tuple[float, float]) -> tuple[int, int]:
    return round(p[0]), round(p[1])


# --- backgrounds ---------------------------------------------------------------------------------------


def background(rng: np.random.Generator, size: tuple[int, int]) -> Image:
    """``flat``: ground with gravel texture, a horizon band, stacked materials and a machine or two."""
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


def concrete_background(rng: np.random.Generator, size: tuple[int, int]) -> Image:
    """``round``: concrete slabs with seams and stains under a sky gradient, pipes and barrels."""
    w, h = size
    horizon = int(h * rng.uniform(0.1, 0.35))
    grey = float(rng.uniform(110, 190))
    img = np.full((h, w, 3), grey, np.float32) * np.array(rng.uniform(0.9, 1.1, 3), np.float32)
    img += cv2.resize(rng.normal(0, 14, (h // 24 + 1, w // 24 + 1, 1)).astype(np.float32), (w, h))[..., None]
    img += rng.normal(0, 5, (h, w, 1)).astype(np.float32)
    sky = np.linspace(rng.uniform(150, 255), rng.uniform(90, 200), max(1, horizon), dtype=np.float32)
    img[:horizon] = sky[:, None, None] * np.array(rng.uniform(0.7, 1.0, 3), np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    step = int(rng.integers(60, 160))
    for x in range(int(rng.integers(0, step)), w, step):  # slab seams, converging a little
        cv2.line(out, (x, h), (int(w / 2 + (x - w / 2) * 0.6), horizon), (int(grey * 0.6),) * 3, 1)
    for y in range(horizon + step // 3, h, step // 2):
        cv2.line(out, (0, y), (w, y), (int(grey * 0.65),) * 3, 1)
    for _ in range(int(rng.integers(2, 6))):  # stains
        c = _pt((rng.uniform(0, w), rng.uniform(horizon, h)))
        cv2.ellipse(
            out,
            c,
            (int(rng.integers(10, 60)), int(rng.integers(5, 25))),
            0,
            0,
            360,
            (int(grey * 0.7),) * 3,
            -1,
        )
    for _ in range(int(rng.integers(1, 4))):  # pipes lying around
        y = int(rng.uniform(horizon, h))
        x = int(rng.uniform(0, w))
        thick = int(rng.integers(6, 20))
        colour = tuple(int(c) for c in rng.integers(40, 200, 3))
        cv2.line(out, (x, y), (x + int(rng.integers(60, 250)), y + int(rng.integers(-10, 10))), colour, thick)
    for _ in range(int(rng.integers(1, 4))):  # barrels
        x, y = int(rng.uniform(0, w)), int(rng.uniform(horizon + 10, h))
        bw, bh = int(rng.integers(15, 40)), int(rng.integers(25, 60))
        colour = tuple(int(c) for c in rng.integers(20, 220, 3))
        cv2.rectangle(out, (x, y - bh), (x + bw, y), colour, -1)
        cv2.ellipse(
            out,
            (x + bw // 2, y - bh),
            (bw // 2, max(2, bw // 5)),
            0,
            0,
            360,
            tuple(min(255, c + 40) for c in colour),
            -1,
        )
    return out


def yard_background(rng: np.random.Generator, size: tuple[int, int]) -> Image:
    """``toon`` (left out of training): dark asphalt with lane markings, a brick or site-fence band,
    scaffolding and traffic cones."""
    w, h = size
    horizon = int(h * rng.uniform(0.2, 0.4))
    tone = float(rng.uniform(45, 95))
    img = np.full((h, w, 3), tone, np.float32)
    img += rng.normal(0, 7, (h, w, 1)).astype(np.float32)
    band = np.array(rng.choice([[60, 80, 150], [90, 110, 70], [140, 140, 140]]), np.float32)  # brick/fence
    img[:horizon] = band + rng.normal(0, 10, (horizon, w, 1)).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    for y in range(0, horizon, max(4, horizon // 8)):  # mortar or fence rails
        cv2.line(out, (0, y), (w, y), tuple(int(c * 0.6) for c in band), 1)
    for x in range(int(rng.integers(0, 80)), w, int(rng.integers(70, 140))):  # scaffolding
        cv2.line(out, (x, 0), (x, horizon + 10), (150, 150, 160), 3)
    for y in (horizon // 3, 2 * horizon // 3):
        cv2.line(out, (0, y), (w, y), (150, 150, 160), 3)
    paint = (0, 210, 240) if rng.random() < 0.5 else (235, 235, 235)
    for k in range(int(rng.integers(1, 4))):  # lane markings, dashed
        y = int(horizon + (k + 1) * (h - horizon) / 4)
        for x in range(0, w, 80):
            cv2.line(out, (x, y), (x + 45, y), paint, max(2, h // 90))
    for _ in range(int(rng.integers(2, 6))):  # cones
        x, y = int(rng.uniform(0, w)), int(rng.uniform(horizon + 10, h))
        s = int(rng.integers(10, 30))
        cv2.fillPoly(out, [np.array([[x, y], [x + s, y], [x + s // 2, y - 2 * s]], np.int32)], (0, 110, 250))
        cv2.line(out, (x + s // 4, y - s), (x + 3 * s // 4, y - s), (240, 240, 240), max(1, s // 5))
    return out


def photo_names() -> list[str]:
    """The real photographs the generator uses, as ``pkg:`` paths inside installed packages."""
    return [
        f"pkg:skimage/data/{n}"
        for n in (
            "astronaut.png",
            "brick.png",
            "camera.png",
            "chelsea.png",
            "coffee.png",
            "coins.png",
            "color.png",
            "grass.png",
            "gravel.png",
            "horse.png",
            "hubble_deep_field.jpg",
            "motorcycle_left.png",
            "motorcycle_right.png",
            "rocket.jpg",
            "page.png",
            "text.png",
            "moon.png",
            "logo.png",
            "clock_motion.png",
        )
    ] + ["pkg:sklearn/datasets/images/china.jpg", "pkg:sklearn/datasets/images/flower.jpg"]


_PHOTOS: list[Image] = []


def photos() -> list[Image]:
    """The photographs, loaded once; a clear error when scikit-image / scikit-learn are missing."""
    if not _PHOTOS:
        from sitewatch.daemon.resources import resolve_package_path

        for name in photo_names():
            try:
                image = cv2.imread(str(resolve_package_path(name)), cv2.IMREAD_COLOR)
            except (FileNotFoundError, ModuleNotFoundError, ValueError) as e:
                raise RuntimeError(f"{name}: {e} (pip install scikit-image scikit-learn)") from e
            if image is not None:
                _PHOTOS.append(np.asarray(image, np.uint8))
    return _PHOTOS


def photo_background(rng: np.random.Generator, size: tuple[int, int]) -> Image:
    """``photo``: a random crop of a real photograph, scaled to the frame, sometimes mirrored or dimmed."""
    w, h = size
    pool = photos()
    src = pool[int(rng.integers(len(pool)))]
    sh, sw = src.shape[:2]
    scale = float(rng.uniform(0.5, 1.0))
    cw, ch = max(16, int(sw * scale)), max(16, int(sh * scale))
    if cw / ch > w / h:
        cw = int(ch * w / h)
    else:
        ch = int(cw * h / w)
    x, y = int(rng.integers(0, sw - cw + 1)), int(rng.integers(0, sh - ch + 1))
    out = cv2.resize(src[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out, np.uint8)


def paste_clutter(img: Image, rng: np.random.Generator, horizon: int, n: int) -> None:
    """Things that look like hats or heads but are on nobody: hats lying on the ground, balls, round
    signs, and patches of real photographs (hard negatives: none of them is labelled)."""
    h, w = img.shape[:2]
    for _ in range(n):
        x, y = int(rng.uniform(0, w)), int(rng.uniform(horizon, h))
        s = int(rng.uniform(0.01, 0.05) * h) + 3
        kind = int(rng.integers(6))
        if kind == 0:  # a hat on the ground or on a pallet
            colour = HAT_COLOURS[int(rng.integers(len(HAT_COLOURS)))]
            cv2.ellipse(img, (x, y), (s, max(2, int(0.8 * s))), 0, 180, 360, colour, -1, cv2.LINE_AA)
            cv2.line(img, (x - int(1.2 * s), y), (x + int(1.2 * s), y), colour, max(2, s // 4))
        elif kind == 1:  # a ball, a lamp or a round sign
            colour = tuple(int(c) for c in rng.integers(30, 255, 3))
            cv2.circle(img, (x, y), s, colour, -1, cv2.LINE_AA)
            if rng.random() < 0.5:
                cv2.line(img, (x, y + s), (x, y + 4 * s), (80, 80, 80), max(1, s // 4))
        elif kind == 4:  # a traffic cone or a bollard, worker-sized and worker-coloured
            ch = int(rng.uniform(0.04, 0.16) * h) + 6
            cw = max(4, int(ch * rng.uniform(0.3, 0.5)))
            colour = [(0, 110, 250), (0, 60, 230), (0, 210, 250), (240, 240, 240)][int(rng.integers(4))]
            if rng.random() < 0.6:
                tri = np.array([[x - cw // 2, y], [x + cw // 2, y], [x, y - ch]], np.int32)
                cv2.fillPoly(img, [tri], colour)
            else:
                cv2.rectangle(img, (x - cw // 3, y - ch), (x + cw // 3, y), colour, -1)
            band = (240, 240, 240) if colour[0] < 200 else (30, 30, 30)
            for k in range(int(rng.integers(1, 3))):
                yy = y - ch * (k + 1) // 3
                cv2.line(img, (x - cw // 4, yy), (x + cw // 4, yy), band, max(1, ch // 10))
        elif kind == 5:  # a hi-vis vest or a sign hung on a post
            ph = int(rng.uniform(0.05, 0.2) * h) + 6
            cv2.line(img, (x, y), (x, y - ph), (90, 90, 90), max(1, ph // 20))
            colour = [(0, 230, 230), (0, 165, 255), (40, 40, 200), (230, 230, 230)][int(rng.integers(4))]
            cv2.rectangle(img, (x - ph // 5, y - ph), (x + ph // 5, y - ph // 2), colour, -1)
        else:  # a patch of a photograph
            pool = photos()
            src = pool[int(rng.integers(len(pool)))]
            pw = int(rng.uniform(0.05, 0.25) * w)
            ph = max(8, int(pw * rng.uniform(0.5, 1.5)))
            sx, sy = (
                int(rng.integers(0, max(1, src.shape[1] - pw))),
                int(rng.integers(0, max(1, src.shape[0] - ph))),
            )
            patch = cv2.resize(src[sy : sy + ph, sx : sx + pw], (pw, ph))
            x0, y0 = min(x, w - pw), min(max(0, y - ph), h - ph)
            if x0 >= 0 and y0 >= 0:
                img[y0 : y0 + ph, x0 : x0 + pw] = patch


@dataclass(frozen=True)
class Family:
    """A style family: how its people are drawn and what they stand on."""

    name: str
    figures: tuple[str, ...]
    background: Callable[[np.random.Generator, tuple[int, int]], Image]
    fixed: bool = False
    """A yardstick: drawn exactly as when models were first judged on it (no later widening of the
    training families' randomisation applies), so figures of different models stay comparable."""


FAMILIES = {
    "flat": Family("flat", ("flat",), background),
    "round": Family("round", ("round",), concrete_background),
    "photo": Family("photo", ("flat", "round"), photo_background),
    "toon": Family("toon", ("toon",), yard_background, fixed=True),
}
TRAIN_FAMILIES = ("flat", "round", "photo")
HELD_OUT_FAMILY = "toon"
"""The family the demo model never sees in training; its clips measure how well it generalises."""


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


def render(
    bg: Image,
    workers: list[Worker],
    t: float,
    rng: np.random.Generator,
    light: float = 1.0,
    noise: float = 4.0,
) -> Image:
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


SIZES = [(640, 384), (640, 360), (768, 432), (800, 450), (960, 540), (1024, 576), (1280, 720), (720, 480)]
"""Frame sizes training images are drawn at (the model sees them letterboxed to its input size)."""


def scene_workers(
    rng: np.random.Generator,
    family: Family,
    size: tuple[int, int],
    n: int,
    horizon: int,
    heights: tuple[float, float] | None = None,
) -> list[Worker]:
    """``n`` workers for one still image, sized by a random camera height: people shrink towards the
    horizon, more or less steeply (or, with ``heights``, any share of the frame height in that range)."""
    h = size[1]
    steep = float(rng.uniform(0.45, 1.0))
    out = []
    for k in range(n):
        wk = random_worker(rng, k + 1, size, 0.0, 1.0)
        wk.y = float(rng.uniform(horizon + 0.12 * h, 1.04 * h))
        wk.height = float(np.clip(steep * (wk.y - horizon) * rng.uniform(0.85, 1.15), 0.07 * h, 0.65 * h))
        if heights is not None:
            wk.height = float(rng.uniform(*heights) * h)
        wk.look = random_look(rng, family.figures[int(rng.integers(len(family.figures)))])
        if family.name != "flat" and rng.random() < 0.3:  # any colour of hat or clothes
            wk.hat = tuple(int(c) for c in rng.integers(0, 256, 3)) if wk.hat else None  # type: ignore[assignment]
            wk.shirt = tuple(int(c) for c in rng.integers(0, 256, 3))  # type: ignore[assignment]
        if family.fixed:
            if wk.hat is not None and rng.random() < 0.15:
                wk.hat_off = (0.0, 1.0)
            out.append(wk)
            continue
        if wk.hat is not None and rng.random() < 0.25:
            wk.hat_off = (0.0, 1.0)  # hat in hand
        wk.skin = random_skin(rng)
        wk.hair = HAIR[int(rng.integers(len(HAIR)))] if rng.random() < 0.4 else None  # else bald
        wk.eyes = bool(rng.random() < 0.35)
        out.append(wk)
    return out


LOW_CONTRAST_SHARE = 0.25
"""Share of workers (training families) dressed in the colours of the ground they stand on."""

PAINT = [(0, 210, 240), (0, 230, 255), (235, 235, 235), (0, 140, 255), (60, 60, 220), (40, 180, 60)]
"""Line paint (BGR): yellows, white, orange, red, green."""


def widen_ground(img: Image, rng: np.random.Generator, horizon: int) -> None:
    """Grounds of the training families beyond their own look, in place: sometimes darker (asphalt,
    shade, wet concrete), sometimes painted with lines, dashes or hazard stripes, so that people are seen
    on dark ground and heads in front of bright paint — not only on mid-grey gravel and concrete."""
    h, w = img.shape[:2]
    if rng.random() < 0.35:
        ground = img[horizon:].astype(np.float32) * float(rng.uniform(0.3, 0.75))
        img[horizon:] = np.clip(ground, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ground_view = img[horizon:]  # rows of a C-contiguous image: OpenCV draws into it in place
        for _ in range(int(rng.integers(1, 5))):
            paint = PAINT[int(rng.integers(len(PAINT)))]
            y = int(rng.uniform(4, h - horizon))
            slope = float(rng.uniform(-0.25, 0.25))
            thick = max(2, int(rng.uniform(0.004, 0.02) * h))
            dash, gap = int(rng.integers(20, 90)), int(rng.integers(0, 60))
            style = int(rng.integers(3))
            for x in range(-int(rng.integers(0, 60)), w, dash + gap if style else w + 1):
                x2 = x + (dash if style else w + 60)
                a, b = (x, int(y + slope * x)), (x2, int(y + slope * x2))
                if style == 2:  # hazard stripes: yellow and black bars across a band
                    top, bottom = a[1] - 2 * thick, a[1] + 2 * thick
                    for k in range(x, x2, 2 * thick + 2):
                        cv2.line(ground_view, (k, top), (k + 2 * thick, bottom), (0, 210, 240), thick)
                        k2 = k + thick + 1
                        cv2.line(ground_view, (k2, top), (k2 + 2 * thick, bottom), (20, 20, 20), thick)
                else:
                    cv2.line(ground_view, a, b, paint, thick)


def blend_clothes(wk: Worker, bg: Image, rng: np.random.Generator) -> None:
    """Dress a worker in the colours of the ground at their feet (a brown jacket on a brown yard, grey on
    asphalt): the detector must find people by shape, not by contrast."""
    h, w = bg.shape[:2]
    fx, fy = wk.feet(0.5)
    x, y = int(np.clip(fx, 0, w - 1)), int(np.clip(fy - 0.02 * wk.height, 0, h - 1))
    ground = bg[y, x].astype(np.float32)
    wk.shirt = tuple(int(c) for c in np.clip(ground + rng.normal(0, 18, 3), 0, 255))  # type: ignore[assignment]
    wk.pants = tuple(int(c) for c in np.clip(ground + rng.normal(0, 18, 3), 0, 255))  # type: ignore[assignment]
    wk.vest = bool(wk.vest and rng.random() < 0.3)


def dataset_image(
    rng: np.random.Generator,
    family: Family,
    size: tuple[int, int],
    empty: bool = False,
    heights: tuple[float, float] | None = None,
) -> tuple[Image, list[tuple[int, int, Box]]]:
    """One image of a family and its labels (class id, worker id, box); ``empty``: nobody in it (a hard
    negative); ``heights``: the workers' heights as shares of the frame height (default: perspective)."""
    h = size[1]
    horizon = int(h * rng.uniform(0.1, 0.45))
    bg = family.background(rng, size)
    paste_clutter(bg, rng, horizon, int(rng.integers(0, 6)))
    if not family.fixed:
        widen_ground(bg, rng, horizon)
    workers = [] if empty else scene_workers(rng, family, size, int(rng.integers(1, 9)), horizon, heights)
    if not family.fixed:
        for wk in workers:
            if rng.random() < LOW_CONTRAST_SHARE:
                blend_clothes(wk, bg, rng)
    t = float(rng.uniform(0, 0.99))
    img = render(bg, workers, t, rng, light=float(rng.uniform(0.55, 1.35)), noise=float(rng.uniform(0, 9)))
    if rng.random() < 0.3:
        k = (3, 5)[int(rng.integers(2))]
        img = np.asarray(cv2.GaussianBlur(img, (k, k), 0), np.uint8)
    if rng.random() < 0.15:  # a cast: sodium light, dusk, a cheap sensor's white balance
        img = np.asarray(np.clip(img * rng.uniform(0.7, 1.2, 3), 0, 255), np.uint8)
    return img, visible_labels(workers, t, size)


def crop_window(
    rng: np.random.Generator, img: Image, labels: list[tuple[int, int, Box]], sides: tuple[int, int]
) -> tuple[Image, list[tuple[int, int, Box]]]:
    """A square window of ``sides[0]`` to ``sides[1]`` px (at most the frame's short side) anywhere in the
    frame, and its labels (``crop_labels``). Training at a small input on windows shows the model people
    at the size a larger input shows them in a whole frame, at a fraction of the cost: a 480-px window
    seen at 320 px scales people as a 960-px camera watched at 640 does."""
    h, w = img.shape[:2]
    side = int(min(rng.uniform(*sides), w, h))
    x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    window = (x0, y0, x0 + side, y0 + side)
    return np.ascontiguousarray(img[y0 : y0 + side, x0 : x0 + side]), crop_labels(labels, window)


def crop_labels(labels: list[tuple[int, int, Box]], window: Box) -> list[tuple[int, int, Box]]:
    """Labels in ``window``'s own pixels: clipped to it, and dropped when less than 40 % of the box stays
    inside (the rule ``visible_labels`` applies at the frame's edge)."""
    x0, y0, x1, y1 = window
    out = []
    for cls, wid, (a1, b1, a2, b2) in labels:
        c1, d1, c2, d2 = max(a1, x0) - x0, max(b1, y0) - y0, min(a2, x1) - x0, min(b2, y1) - y0
        if c2 - c1 < 3 or d2 - d1 < 3 or (c2 - c1) * (d2 - d1) < 0.4 * (a2 - a1) * (b2 - b1):
            continue
        out.append((cls, wid, (c1, d1, c2, d2)))
    return out


def write_dataset(
    root: Path,
    n_train: int,
    n_val: int,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    families: tuple[str, ...] = TRAIN_FAMILIES,
    empty_share: float = 0.08,
    crops: tuple[int, int] | None = None,
    crop_share: float = 0.75,
) -> Path:
    """YOLO-format images and labels under ``root``, drawn from ``families`` in turn (a random frame size
    from ``SIZES`` unless ``size`` is given; ``empty_share`` of them with nobody in them); returns the
    dataset YAML for Ultralytics. ``crops=(lo, hi)``: ``crop_share`` of the training images are square
    windows of ``lo`` to ``hi`` px cut from a frame (see ``crop_window``)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            family = FAMILIES[families[i % len(families)]]
            w, h = size or SIZES[int(rng.integers(len(SIZES)))]
            img, labels = dataset_image(rng, family, (w, h), empty=rng.random() < empty_share)
            if crops is not None and split == "train" and rng.random() < crop_share:
                img, labels = crop_window(rng, img, labels, crops)
                h, w = img.shape[:2]
            cv2.imwrite(str(root / "images" / split / f"{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            lines = [
                f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
                for cls, _, (x1, y1, x2, y2) in labels
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


def demo_workers(rng: np.random.Generator, size: tuple[int, int], seconds: float, n: int,
                 heights: tuple[float, float] = (0.3, 0.5)) -> list[Worker]:  # fmt: skip
    """``n`` workers who walk across, a third without a hard hat, one who takes it off for a while,
    some who cut through the restricted zone (right side); ``heights`` as shares of the frame height."""
    w, h = size
    workers = []
    for k in range(n):
        t0 = float(rng.uniform(0, seconds * 0.5))
        speed = float(rng.uniform(35, 80))
        leftwards = k % 2 == 1
        height = float(rng.uniform(*heights) * h)
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
              size: tuple[int, int] = (640, 384), crf: int = 20, family: str = "flat",
              heights: tuple[float, float] = (0.3, 0.5)) -> Clip:  # fmt: skip
    """Write a clip of a style family and its ground truth (``<clip>.truth.json``, format in docs/eval.md).
    The ``flat`` family draws exactly what it always has for a seed (the shipped sample)."""
    from videos import write_video

    rng = np.random.default_rng(seed)
    style = FAMILIES[family]
    bg = style.background(rng, size)
    crew = demo_workers(rng, size, seconds, workers, heights)
    if family != "flat":  # looks from their own stream, so the scene's other draws stay as they were
        looks = np.random.default_rng([seed, 1])
        for wk in crew:
            wk.look = random_look(looks, style.figures[int(looks.integers(len(style.figures)))])
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
