"""Hugging Face transformers detectors, loaded from a local directory (nothing is downloaded).

``model.backend = "transformers"``: anything ``AutoModelForObjectDetection`` loads — DETR, Conditional and
Deformable DETR, RT-DETR / RT-DETRv2, D-FINE, YOLOS, ... — with its ``AutoImageProcessor``. Class names
come from the model's ``config.id2label`` and go through the same ``model.labels`` / ``model.classes`` map
and label checks as every backend.

``model.backend = "zero_shot"``: ``AutoModelForZeroShotObjectDetection`` (OWL-ViT, OWLv2, Grounding DINO,
...) with text queries from ``model.queries`` (query → canonical label) and per-query thresholds. The
queries are tokenised once; for the OWL family, whose heads take query embeddings, the text is embedded
once too and each batch runs only the image tower.

Both batch frames across cameras, run fp16 on CUDA, and post-process each frame to its own pixel size.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import ConfigError, ModelConfig
from ..types import Detections, Frame
from .base import Detector, LabelMap, log_loaded
from .ultralytics import first_line, resolve_device

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'transformers>=5' (a dependency of sitewatch; was it removed?)"


def import_transformers(key: str) -> Any:
    """The transformers module, or a ConfigError at ``key`` saying how to install it."""
    try:
        import transformers
    except ImportError:
        raise ConfigError([f"{key}: needs the transformers library: {INSTALL_HINT}"]) from None
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # its notices about unused weights are not ours to log
    return transformers


def load_pretrained(key: str, path: str, loader: Any, what: str) -> Any:
    """``loader.from_pretrained(path)`` from a local directory only, any failure a ConfigError at ``key``."""
    if not Path(path).is_dir():
        raise ConfigError(
            [f"{key}: {path} is not a directory; transformers models are loaded from a local directory "
             "(docs/models.md: huggingface-cli download ... --local-dir DIR)"]
        )  # fmt: skip
    try:
        return loader.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for a bad directory
        raise ConfigError([f"{key}: cannot load {what} from {path}: {first_line(exc)}"]) from None


def to_rgb(frames: Sequence[Frame]) -> list[np.ndarray]:
    """Frames are BGR (OpenCV); transformers processors expect RGB."""
    return [np.ascontiguousarray(f.image[..., ::-1]) for f in frames]


def processor_long_side(processor: Any) -> int | None:
    """The long side, in pixels, the processor resizes to (for the head-size warning), if it says."""
    size = getattr(processor, "size", None) or {}
    sides: dict[str, int] = {
        k: int(v)
        for k in ("longest_edge", "height", "width", "shortest_edge")
        if (v := (size.get(k) if isinstance(size, dict) else getattr(size, k, None)))
    }
    for key in ("longest_edge", "height", "shortest_edge"):
        if key in sides:
            return max(sides[key], sides.get("width", 0))
    return None


class _HfDetector(Detector):
    runtime = "transformers"
    _processor: Any

    def _place(self, cfg: ModelConfig, model: Any) -> Any:
        import torch

        self.device, self.half = resolve_device(cfg.device, cfg.half)
        self._dtype = torch.float16 if self.half else torch.float32
        self._torch = torch
        return model.to(self.device, dtype=self._dtype).eval()

    def _inputs(self, batch: Any) -> dict[str, Any]:
        """The processor's tensors on the model's device; floating ones in the model's precision."""
        out = {}
        for key, value in batch.items():
            if hasattr(value, "to"):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(self._dtype)
            out[key] = value
        return out

    @staticmethod
    def _targets(frames: Sequence[Frame]) -> list[tuple[int, int]]:
        return [(f.image.shape[0], f.image.shape[1]) for f in frames]  # (height, width) each

    def input_size(self, frame_size: tuple[int, int]) -> int | None:
        return processor_long_side(self._processor)


class TransformersDetector(_HfDetector):
    """A DETR-family (or any ``AutoModelForObjectDetection``) model from a local directory."""

    def __init__(self, cfg: ModelConfig) -> None:
        tf = import_transformers("model.backend")
        self.name = Path(cfg.path).name
        self._cfg = cfg
        self._processor = load_pretrained("model.path", cfg.path, tf.AutoImageProcessor, "an image processor")
        model = load_pretrained("model.path", cfg.path, tf.AutoModelForObjectDetection, "an object detector")
        self._model = self._place(cfg, model)
        names = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}
        if not names:
            raise ConfigError([f"model.path: {self.name} has no class names (config.id2label is empty)"])
        self._map = LabelMap(names, cfg)
        self.labels = self._map.labels
        self.unknown_sources = self._map.unknown_sources
        labels = ", ".join(sorted(self.labels))
        log_loaded(self, self.half, f"transformers {type(model).__name__}", f"labels: {labels}")

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        with self._torch.inference_mode():
            batch = self._processor(images=to_rgb(frames), return_tensors="pt")
            outputs = self._model(**self._inputs(batch))
            results = self._processor.post_process_object_detection(
                outputs, threshold=self._cfg.min_confidence, target_sizes=self._targets(frames)
            )
        return [
            self._map.apply(
                r["boxes"].float().cpu().numpy().reshape(-1, 4),
                r["scores"].float().cpu().numpy(),
                r["labels"].cpu().numpy().astype(np.int64),
            )
            for r in results
        ]


class ZeroShotDetector(_HfDetector):
    """An open-vocabulary detector asked the config's text queries."""

    def __init__(self, cfg: ModelConfig) -> None:
        tf = import_transformers("model.backend")
        if not cfg.queries:
            raise ConfigError(["model.queries: zero_shot needs text queries, e.g. {'hard hat' = 'hardhat'}"])
        self.name = Path(cfg.path).name
        self._cfg = cfg
        self._processor = load_pretrained("model.path", cfg.path, tf.AutoProcessor, "a processor")
        model = load_pretrained(
            "model.path", cfg.path, tf.AutoModelForZeroShotObjectDetection, "a zero-shot detector"
        )
        self._model = self._place(cfg, model)
        self._queries = list(cfg.queries)
        self._map = LabelMap(dict(enumerate(cfg.queries.values())), cfg.model_copy(update={"labels": {}}))
        self.labels = self._map.labels
        self.unknown_sources = ()
        self._floor = min([cfg.min_confidence, *cfg.query_thresholds.values()])
        self._thresholds = np.array(
            [cfg.query_thresholds.get(q, cfg.min_confidence) for q in self._queries], np.float32
        )
        self._text = self._processor(text=[self._queries], return_tensors="pt", padding=True, truncation=True)
        image_processor = getattr(self._processor, "image_processor", None)
        self._pads_square = type(model).__name__.startswith("Owlv2") and getattr(
            image_processor, "do_pad", False
        )
        self._query_embeds = self._embed_queries()
        queries = "; ".join(f"{q!r} -> {lab}" for q, lab in cfg.queries.items())
        log_loaded(self, self.half, f"zero-shot {type(model).__name__}", f"queries: {queries}")

    def _embed_queries(self) -> Any:
        """OWL-ViT / OWLv2: the queries' embeddings, once (their heads take them as an input)."""
        base = getattr(self._model, "owlvit", None) or getattr(self._model, "owlv2", None)
        if base is None or not all(
            hasattr(self._model, a) for a in ("image_embedder", "class_predictor", "box_predictor")
        ):
            return None
        with self._torch.inference_mode():
            text = self._inputs(self._text)
            embeds = base.get_text_features(
                input_ids=text["input_ids"], attention_mask=text["attention_mask"]
            )
            embeds = getattr(embeds, "pooler_output", embeds)
            return embeds / self._torch.linalg.norm(embeds, ord=2, dim=-1, keepdim=True)  # as the model does

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        if not frames:
            return []
        n = len(frames)
        with self._torch.inference_mode():
            if self._query_embeds is not None:
                outputs = self._owl_forward(frames)
            else:
                batch = self._processor(
                    text=[self._queries] * n,
                    images=to_rgb(frames),
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                )
                outputs = self._model(**self._inputs(batch))
            results = self._post_process(outputs, frames)
        out = []
        for r in results:
            ids = self._query_ids(r)
            scores = r["scores"].float().cpu().numpy().reshape(-1)
            boxes = r["boxes"].float().cpu().numpy().reshape(-1, 4)
            keep = (ids >= 0) & (scores >= self._thresholds[np.clip(ids, 0, len(self._queries) - 1)])
            out.append(self._map.apply(boxes[keep], scores[keep], ids[keep]))
        return out

    def _owl_forward(self, frames: Sequence[Frame]) -> Any:
        """The OWL detection head on cached query embeddings: the image tower runs, the text tower not."""
        from transformers.models.owlvit.modeling_owlvit import OwlViTObjectDetectionOutput

        pixels = self._processor.image_processor(images=to_rgb(frames), return_tensors="pt")["pixel_values"]
        pixels = pixels.to(self.device, dtype=self._dtype)
        feature_map = self._model.image_embedder(pixel_values=pixels)[0]
        b, h, w, d = feature_map.shape
        image_feats = feature_map.reshape(b, h * w, d)
        queries = self._query_embeds[None].expand(b, -1, -1)
        query_mask = self._torch.ones(queries.shape[:2], dtype=self._torch.bool, device=queries.device)
        logits, _ = self._model.class_predictor(image_feats, queries, query_mask)
        boxes = self._model.box_predictor(image_feats, feature_map)
        return OwlViTObjectDetectionOutput(logits=logits, pred_boxes=boxes)  # all post-processing reads

    def _post_process(self, outputs: Any, frames: Sequence[Frame]) -> list[dict[str, Any]]:
        processor, n = self._processor, len(frames)
        targets = self._targets(frames)
        if self._pads_square:  # OWLv2 pads each image to a square before resizing: boxes are in its frame
            targets = [(max(h, w), max(h, w)) for h, w in targets]
        post = processor.post_process_grounded_object_detection
        kwargs: dict[str, Any] = {"threshold": self._floor, "target_sizes": targets}
        params = inspect.signature(post).parameters
        if "text_labels" in params:
            kwargs["text_labels"] = [self._queries] * n
        if "input_ids" in params:  # Grounding DINO: boxes named by the query words they matched
            kwargs["input_ids"] = self._text["input_ids"].repeat(n, 1)
            kwargs["text_threshold"] = self._floor
        return list(post(outputs, **kwargs))

    def _query_ids(self, result: dict[str, Any]) -> npt.NDArray[np.int64]:
        """Each box's query index (-1: matched words that belong to no single query)."""
        labels = result.get("labels")
        if labels is not None and hasattr(labels, "cpu"):
            return np.asarray(labels.cpu(), np.int64).reshape(-1)
        texts = result.get("text_labels", labels) or []
        return np.array([self._query_index(str(t)) for t in texts], np.int64).reshape(-1)

    def _query_index(self, text: str) -> int:
        text = text.strip().lower()
        for i, q in enumerate(self._queries):
            if text == q.lower():
                return i
        hits = [i for i, q in enumerate(self._queries) if text and (text in q.lower() or q.lower() in text)]
        return hits[0] if len(hits) == 1 else -1
