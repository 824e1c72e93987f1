"""The second stage's models: each turns a batch of RGB crops into one attribute value per crop.

``image_classification``: ``AutoModelForImageClassification`` (ViT, ResNet, ConvNeXt, MobileNet...); its
classes map to attribute values through ``values`` (unnamed classes keep their name), and a value's
probability is the sum of its classes' softmax probabilities.

``zero_shot``: a CLIP-style model (CLIP, SigLIP: anything ``AutoModel`` loads with
``get_image_features`` and ``get_text_features``); the prompts are embedded once, each crop is compared
with all of them, and a value's probability is the sum of its prompts' softmax probabilities (SigLIP's
logits are turned into a choice among the prompts the same way: the question is which prompt fits best).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import ClassifierConfig, ConfigError
from ..detectors.hf import import_transformers, load_pretrained
from ..detectors.ultralytics import resolve_device
from .preprocess import CropPreprocessor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Looks:
    """What the classifier made of a batch of crops: each crop's value and its probability."""

    values: list[str]
    confidence: npt.NDArray[np.float32]


class Classifier:
    """One loaded classifier. ``classify`` is called from the attribute worker thread only."""

    def __init__(self, cfg: ClassifierConfig, key: str) -> None:
        import torch

        self.tf = import_transformers(f"{key}.kind")
        self.cfg = cfg
        self.name = cfg.name
        self._torch = torch
        self.device, half = resolve_device(cfg.device, None)
        self._dtype = torch.float16 if half else torch.float32
        self._key = key
        self.value_names: list[str] = []
        self._to_value: Any = None  # (classes, values) one-hot matrix: class probabilities -> value ones

    def _place(self, model: Any) -> Any:
        return model.to(self.device, dtype=self._dtype).eval()

    def _value_matrix(self, class_values: Sequence[str]) -> None:
        self.value_names = sorted(set(class_values))
        matrix = np.zeros((len(class_values), len(self.value_names)), np.float32)
        for i, value in enumerate(class_values):
            matrix[i, self.value_names.index(value)] = 1.0
        self._to_value = self._torch.from_numpy(matrix).to(self.device)

    def _logits(self, pixels: Any) -> Any:
        raise NotImplementedError

    def classify(self, crops: Sequence[npt.NDArray[np.uint8]]) -> Looks:
        """RGB uint8 crops (any sizes) → each one's most probable value."""
        torch = self._torch
        with torch.inference_mode():
            pixels = self.preprocess(crops, device=self.device).to(self._dtype)
            probs = torch.softmax(self._logits(pixels).float(), dim=-1) @ self._to_value
            confidence, best = probs.max(dim=-1)
        return Looks(
            [self.value_names[i] for i in best.tolist()], confidence.cpu().numpy().astype(np.float32)
        )

    preprocess: CropPreprocessor


class ImageClassifier(Classifier):
    def __init__(self, cfg: ClassifierConfig, key: str) -> None:
        super().__init__(cfg, key)
        tf = self.tf
        processor = load_pretrained(f"{key}.path", cfg.path, tf.AutoImageProcessor, "an image processor")
        model = load_pretrained(
            f"{key}.path", cfg.path, tf.AutoModelForImageClassification, "an image classifier"
        )
        names = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}
        if len(names) < 2:
            raise ConfigError([f"{key}.path: {Path(cfg.path).name} has fewer than two classes"])
        unknown = sorted(set(cfg.values) - set(names.values()))
        if unknown:
            raise ConfigError(
                [f"{key}.values: {', '.join(map(repr, unknown))} is not a class of {Path(cfg.path).name} "
                 f"(classes: {', '.join(names[i] for i in sorted(names))})"]
            )  # fmt: skip
        self.preprocess = _preprocessor(processor, key)
        self._model = self._place(model)
        self._value_matrix([cfg.values.get(names[i], names[i]) for i in range(max(names) + 1)])

    def _logits(self, pixels: Any) -> Any:
        return self._model(pixel_values=pixels).logits


class PromptClassifier(Classifier):
    def __init__(self, cfg: ClassifierConfig, key: str) -> None:
        super().__init__(cfg, key)
        tf = self.tf
        processor = load_pretrained(f"{key}.path", cfg.path, tf.AutoProcessor, "a processor")
        model = load_pretrained(f"{key}.path", cfg.path, tf.AutoModel, "a CLIP-style model")
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
            raise ConfigError(
                [f"{key}.path: {type(model).__name__} is not a CLIP-style model (no image/text features)"]
            )
        self.preprocess = _preprocessor(getattr(processor, "image_processor", processor), key)
        self._model = self._place(model)
        prompts = list(cfg.prompts)
        padding = "max_length" if "Siglip" in type(model).__name__ else True  # SigLIP was trained so
        text = processor(text=prompts, return_tensors="pt", padding=padding, truncation=True)
        with self._torch.inference_mode():  # the prompts, once
            embeds = self._model.get_text_features(
                **{k: v.to(self.device) for k, v in text.items() if k in ("input_ids", "attention_mask")}
            )
            embeds = getattr(embeds, "pooler_output", embeds).float()
            self._text = embeds / embeds.norm(dim=-1, keepdim=True)
        scale = getattr(model, "logit_scale", None)
        self._scale = float(scale.detach().exp()) if scale is not None else 100.0
        bias = getattr(model, "logit_bias", None)
        self._bias = float(bias.detach()) if bias is not None else 0.0
        self._value_matrix([cfg.prompts[p] for p in prompts])

    def _logits(self, pixels: Any) -> Any:
        image = self._model.get_image_features(pixel_values=pixels)
        image = getattr(image, "pooler_output", image).float()
        image = image / image.norm(dim=-1, keepdim=True)
        return image @ self._text.T * self._scale + self._bias


def _preprocessor(processor: Any, key: str) -> CropPreprocessor:
    try:
        return CropPreprocessor.from_processor(processor)
    except ValueError as exc:
        raise ConfigError([f"{key}.path: {exc}"]) from None


def load_classifier(cfg: ClassifierConfig, index: int) -> Classifier:
    """Load ``classifiers[index]``; a failure is a ConfigError naming its key."""
    key = f"classifiers[{index}]"
    classifier = (PromptClassifier if cfg.kind == "zero_shot" else ImageClassifier)(cfg, key)
    log.info(
        "classifier %r (%s, %s) loaded on %s; values: %s",
        cfg.name,
        cfg.kind,
        Path(cfg.path).name,
        classifier.device,
        ", ".join(classifier.value_names),
    )
    return classifier
