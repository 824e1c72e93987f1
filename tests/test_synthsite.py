"""The synthetic site: labels that match what is drawn, identities that hold, violation intervals that
match the scene."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from synthsite import (
    CLASSES,
    FAMILIES,
    HAT_COLOURS,
    HELD_OUT_FAMILY,
    TRAIN_FAMILIES,
    Worker,
    blend_clothes,
    crop_labels,
    dataset_image,
    make_clip,
    photo_names,
    photos,
    render,
    scene_workers,
    visible_labels,
    widen_ground,
    write_dataset,
)

from sitewatch.daemon.geometry import iou_matrix


def test_dataset_labels_are_valid_and_hats_sit_on_heads(tmp_path: Path) -> None:
    yaml = write_dataset(tmp_path, n_train=40, n_val=5, seed=3)
    assert "names:" in yaml.read_text() and "2: head" in yaml.read_text()
    labels = sorted((tmp_path / "labels" / "train").glob("*.txt"))
    assert len(labels) == 40 and len(list((tmp_path / "images" / "train").glob("*.jpg"))) == 40
    sizes = {cv2.imread(str(p)).shape[:2] for p in (tmp_path / "images" / "train").glob("*.jpg")}
    assert len(sizes) >= 4 and max(w for _, w in sizes) == 1280  # frame sizes vary, up to 1280 px
    seen = set()
    empty = 0
    for path in labels:
        rows = [list(map(float, line.split())) for line in path.read_text().splitlines()]
        if not rows:  # a hard negative: a scene (or a photograph) with nobody in it
            empty += 1
            continue
        boxes = np.array([[r[1] - r[3] / 2, r[2] - r[4] / 2, r[1] + r[3] / 2, r[2] + r[4] / 2] for r in rows])
        assert (boxes >= -1e-6).all() and (boxes <= 1 + 1e-6).all()
        cls = np.array([int(r[0]) for r in rows])
        assert set(cls) <= {0, 1, 2}
        seen |= set(cls.tolist())
        people = boxes[cls == 0]
        for item in boxes[cls != 0]:  # every hat or bare head belongs to the top of some person box
            inside = (item[0] >= people[:, 0] - 0.01) & (item[2] <= people[:, 2] + 0.01)
            top = item[3] <= people[:, 1] + 0.35 * (people[:, 3] - people[:, 1])
            assert (inside & top).any()
    assert seen == {0, 1, 2}
    assert 0 < empty < 10
    assert CLASSES == ("person", "hardhat", "head")


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((120, 130, 160, 200), (20, 30, 60, 100)),  # inside: moved into the window's pixels
        ((80, 150, 130, 190), (0, 50, 30, 90)),  # 60 % inside: kept, clipped at the window's edge
        ((60, 150, 120, 190), None),  # a third inside: dropped, as at the frame's edge
        ((295, 150, 310, 190), None),  # a 5-px sliver: dropped
        ((400, 10, 450, 60), None),  # outside
    ],
)
def test_a_training_window_keeps_the_labels_it_mostly_shows(
    box: tuple[int, int, int, int], expected: tuple[int, int, int, int] | None
) -> None:
    kept = crop_labels([(0, 7, box)], (100, 100, 300, 300))
    assert kept == ([] if expected is None else [(0, 7, expected)])


def test_windowed_datasets_train_on_square_windows_and_validate_on_whole_frames(tmp_path: Path) -> None:
    """``crops``: most training images are square windows of the given sides, the rest and the validation
    images whole frames."""
    write_dataset(tmp_path, n_train=24, n_val=2, seed=5, crops=(320, 480))
    shapes = [cv2.imread(str(p)).shape[:2] for p in sorted((tmp_path / "images" / "train").glob("*.jpg"))]
    squares = [h for h, w in shapes if h == w]
    assert len(squares) >= 12 and all(320 <= s <= 480 for s in squares)
    assert any(h != w for h, w in shapes)  # some whole frames stay
    assert all(
        h != w for h, w in (cv2.imread(str(p)).shape[:2] for p in (tmp_path / "images" / "val").glob("*.jpg"))
    )


def test_the_held_out_family_is_never_in_the_training_data(tmp_path: Path) -> None:
    assert HELD_OUT_FAMILY not in TRAIN_FAMILIES and set(TRAIN_FAMILIES) | {HELD_OUT_FAMILY} == set(FAMILIES)
    assert "toon" not in FAMILIES["photo"].figures
    (tmp_path / "a").mkdir()
    with pytest.raises(KeyError):
        write_dataset(tmp_path / "a", 1, 0, families=("nope",))


def test_training_grounds_are_sometimes_dark_and_sometimes_painted_but_the_sky_is_left_alone() -> None:
    rng = np.random.default_rng(3)
    darker = painted = 0
    for _ in range(40):
        bg = FAMILIES["round"].background(rng, (640, 360))
        img = bg.copy()
        widen_ground(img, rng, horizon=100)
        assert np.array_equal(img[:100], bg[:100])
        ground, before = img[100:].astype(np.float32), bg[100:].astype(np.float32)
        darker += bool(ground.mean() < 0.8 * before.mean())
        bright = (ground.max(axis=2) > 200) & (before.max(axis=2) < 200)
        painted += bool(bright.sum() > 200)
    assert 5 <= darker <= 25 and 8 <= painted <= 32  # 35 % and 50 % of grounds, give or take


def test_a_low_contrast_worker_wears_the_colours_of_the_ground_at_their_feet() -> None:
    rng = np.random.default_rng(4)
    bg = np.full((360, 640, 3), (40, 70, 110), np.uint8)  # a brown yard
    for wk in scene_workers(rng, FAMILIES["round"], (640, 360), 6, horizon=80):
        blend_clothes(wk, bg, rng)
        for colour in (wk.shirt, wk.pants):
            assert np.abs(np.array(colour) - (40, 70, 110)).max() < 80


def test_the_held_out_family_is_drawn_without_the_training_families_widening(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``toon`` is a yardstick (``Family.fixed``): its images must not change when the training families'
    randomisation is widened, or figures of different models stop being comparable."""
    import synthsite

    def forbidden(*_: object) -> None:
        raise AssertionError("widening applied to the held-out family")

    monkeypatch.setattr(synthsite, "widen_ground", forbidden)
    monkeypatch.setattr(synthsite, "blend_clothes", forbidden)
    rng = np.random.default_rng(0)
    for _ in range(10):
        dataset_image(rng, FAMILIES[HELD_OUT_FAMILY], (640, 360))
    with pytest.raises(AssertionError, match="widening"):
        for _ in range(10):
            dataset_image(rng, FAMILIES["round"], (640, 360))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_draws_its_people_inside_their_labelled_boxes(family: str) -> None:
    """Whatever a family's look (builds, poses, hat shapes, outlines), everything drawn for a worker lies
    in their person box (give or take a hand) and every visible label covers drawn pixels."""
    rng = np.random.default_rng(5)
    size = (800, 450)
    style = FAMILIES[family]
    for _ in range(3):
        bg = style.background(rng, size)
        crew = scene_workers(rng, style, size, 5, horizon=100)
        img = render(bg, crew, 0.5, rng, noise=0.0)
        changed = np.abs(img.astype(np.int32) - bg).sum(axis=2) > 0
        allowed = np.zeros_like(changed)
        for wk in crew:
            x1, y1, x2, y2 = wk.boxes(0.5)["person"]
            m = 0.1 * wk.height + 2  # a hand, a boot, anti-aliasing
            allowed[max(0, int(y1 - m)) : max(0, int(y2 + m)), max(0, int(x1 - m)) : max(0, int(x2 + m))] = (
                True
            )
        assert changed.any() and not (changed & ~allowed).any()
        for _, _, (x1, y1, x2, y2) in visible_labels(crew, 0.5, size):
            assert changed[int(y1) : int(y2) + 1, int(x1) : int(x2) + 1].mean() > 0.15


def test_photo_backgrounds_are_real_photographs_from_installed_packages() -> None:
    names = photo_names()
    assert any("skimage" in n for n in names) and any("sklearn" in n for n in names)
    images = photos()
    assert len(images) == len(names)  # every one found and decoded
    assert all(img.ndim == 3 and min(img.shape[:2]) >= 100 for img in images)


def test_the_drawn_hat_is_where_the_label_says() -> None:
    rng = np.random.default_rng(0)
    bg = np.full((384, 640, 3), 90, np.uint8)
    yellow = HAT_COLOURS[0]
    wk = Worker(1, 300, 300, 0, 0, 150, 0, 10, (150, 180, 225), (60, 60, 60), (20, 20, 20), yellow, False)
    img = render(bg, [wk], 1.0, rng, noise=0.0)
    x1, y1, x2, y2 = (int(v) for v in wk.boxes(1.0)["hardhat"])
    patch = img[y1:y2, x1:x2].reshape(-1, 3)
    assert (np.abs(patch.astype(int) - yellow).sum(axis=1) < 30).mean() > 0.4
    wk.hat_off = (0.0, 5.0)
    assert "head" in wk.boxes(1.0) and "hardhat" not in wk.boxes(1.0)


def test_clip_truth_matches_the_video_and_the_scene(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", seconds=8, fps=10, workers=6, seed=1)
    truth = clip.truth
    with av.open(str(clip.path)) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert n == len(truth["frames"]) == 80
    w, h = truth["size"]
    assert (w, h) == (640, 384)
    last: dict[int, np.ndarray] = {}
    for people in truth["frames"]:
        for p in people:
            box = np.array(p["box"], np.float32)
            assert box[3] <= h + 1 and box[1] >= -20 and box[2] > 0 and box[0] < w
            if p["id"] in last:  # identities are continuous: a worker moves a little per frame
                assert iou_matrix(last[p["id"]][None], box[None])[0, 0] > 0.7
            last[p["id"]] = box
    for iv in truth["violations"]:
        frames = truth["frames"][round(iv["start"] * 10) : round(iv["end"] * 10) + 1]
        flags = [next(p for p in people if p["id"] == iv["worker"]) for people in frames]
        if iv["condition"] == "no_hardhat":
            assert all(not f["hat"] for f in flags)
        else:
            assert iv["condition"] == "zone:restricted" and all(f["in_zone"] for f in flags)
    conditions = {iv["condition"] for iv in truth["violations"]}
    assert conditions == {"no_hardhat", "zone:restricted"}
    assert (tmp_path / "c.mp4.truth.json").is_file()


def test_hardhat_violations_are_exactly_the_workers_seen_without_one(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", seconds=6, fps=10, workers=6, seed=4)
    hatless = {p["id"] for people in clip.truth["frames"] for p in people if not p["hat"]}
    flagged = {iv["worker"] for iv in clip.truth["violations"] if iv["condition"] == "no_hardhat"}
    assert hatless and flagged == hatless
