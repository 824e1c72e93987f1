"""Trains the demo hard-hat classifier (models/sitewatch-hardhat-cls/) on head crops, on the CPU.

    .venv/bin/python tools/train_head_classifier.py [--images 2500] [--epochs 8]

Draws images of the training style families of tools/synthsite.py, cuts each visible worker's head
region exactly as the second stage does (``crop_regions`` with the classifier config's head_fraction
and padding) and labels it ``hardhat`` (a hat worn) or ``no_hardhat`` (a bare head, the hat carried in
the hand included). Trains a small ResNet built from a transformers config (random initial weights:
nothing is downloaded), saves it with its image processor, and scores it on fresh crops of every family,
the left-out ``toon`` included; the figures go into the directory's ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from synthsite import CLASSES, FAMILIES, HELD_OUT_FAMILY, SIZES, TRAIN_FAMILIES, dataset_image

from sitewatch.daemon.attributes.stage import crop_regions
from sitewatch.daemon.config import ClassifierConfig

REPO = Path(__file__).resolve().parents[1]
NAMES = {0: "hardhat", 1: "no_hardhat"}
SIZE = 40


def head_crops(n_images: int, families: tuple[str, ...], seed: int) -> tuple[list[np.ndarray], list[int]]:
    """RGB head crops and their labels (0 hat worn, 1 not) from ``n_images`` generated images."""
    rng = np.random.default_rng(seed)
    cfg = ClassifierConfig(name="hardhat", path="-")
    crops, labels = [], []
    for i in range(n_images):
        family = FAMILIES[families[i % len(families)]]
        w, h = SIZES[int(rng.integers(len(SIZES)))]
        image, found = dataset_image(rng, family, (w, h))
        by_worker: dict[int, dict[str, Any]] = {}
        for cls, wid, box in found:
            by_worker.setdefault(wid, {})[CLASSES[cls]] = box
        people = [(parts["person"], "hardhat" in parts) for parts in by_worker.values()
                  if "person" in parts and ("hardhat" in parts or "head" in parts)]  # fmt: skip
        if not people:
            continue
        boxes = np.array([p[0] for p in people], np.float32)
        for crop, (_, hat) in zip(crop_regions(image, boxes, cfg), people, strict=True):
            if crop is not None:
                crops.append(crop)
                labels.append(0 if hat else 1)
    return crops, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2500)
    ap.add_argument("--val-images", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", type=Path, default=REPO / "models" / "sitewatch-hardhat-cls")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    import transformers as tf

    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    started = time.time()
    crops, labels = head_crops(args.images, TRAIN_FAMILIES, args.seed)
    print(
        f"{len(crops)} training crops ({sum(labels)} without a hat) in {time.time() - started:.0f} s",
        flush=True,
    )
    processor = tf.ViTImageProcessor(size={"height": SIZE, "width": SIZE}, resample=2)
    from sitewatch.daemon.attributes.preprocess import CropPreprocessor

    prepare = CropPreprocessor.from_processor(processor)
    pixels = prepare(crops)
    targets = torch.tensor(labels)
    cfg = tf.ResNetConfig(
        embedding_size=16, hidden_sizes=[16, 32, 64, 96], depths=[1, 1, 2, 1], id2label=NAMES,
        label2id={v: k for k, v in NAMES.items()},
    )  # fmt: skip
    model = tf.ResNetForImageClassification(cfg)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = args.epochs * ((len(crops) + 63) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=steps)
    model.train()
    for epoch in range(args.epochs):
        order = torch.randperm(len(crops))
        total = 0.0
        for start in range(0, len(crops), 64):
            idx = order[start : start + 64]
            batch = pixels[idx]
            if torch.rand(()) < 0.5:
                batch = batch.flip(-1)  # a mirrored head is still a head
            batch = batch * (1 + 0.2 * (torch.rand(len(idx), 1, 1, 1) - 0.5)) + 0.2 * (
                torch.rand(len(idx), 3, 1, 1) - 0.5
            )
            loss = torch.nn.functional.cross_entropy(model(pixel_values=batch).logits, targets[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(crops):.4f}", flush=True)
    model.eval()
    minutes = round((time.time() - started) / 60, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    processor.save_pretrained(args.out)

    accuracy: dict[str, Any] = {}
    for k, family in enumerate(FAMILIES):
        val, truth = head_crops(args.val_images, (family,), args.seed + 1000 + k)
        with torch.inference_mode():
            predicted = model(pixel_values=prepare(val)).logits.argmax(-1).numpy()
        truth_arr = np.array(truth)
        accuracy[family] = {
            "crops": len(val),
            "accuracy": round(float((predicted == truth_arr).mean()), 4),
            "hat_recall": round(float((predicted[truth_arr == 0] == 0).mean()), 4),
            "bare_head_recall": round(float((predicted[truth_arr == 1] == 1).mean()), 4),
        }
        print(f"{family}: {accuracy[family]}", flush=True)
    report = {
        "classes": NAMES,
        "architecture": "ResNetForImageClassification from a config (random initial weights)",
        "input": f"{SIZE}x{SIZE} head crops (head_fraction 0.3, padding 0.15, as [[classifiers]] defaults)",
        "families_trained": list(TRAIN_FAMILIES),
        "family_left_out": HELD_OUT_FAMILY,
        "train_crops": len(crops),
        "epochs": args.epochs,
        "minutes": minutes,
        "held_out": accuracy,
    }
    (args.out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
