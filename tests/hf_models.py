"""Tiny, randomly initialised transformers models built from configs and saved to a directory, one per
backend and classifier kind the daemon loads (no hub access: nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DETECTOR_LABELS = {0: "person", 1: "hardhat", 2: "head"}


def _labels(names: dict[int, str]) -> dict[str, Any]:
    return {"id2label": names, "label2id": {v: k for k, v in names.items()}}


def clip_tokenizer() -> Any:
    """A byte-level BPE tokenizer with no merges (each character a token): enough for CLIP-style text
    towers, built offline."""
    import transformers as tf
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return tf.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=64)


def rtdetr(path: Path, names: dict[int, str] = DETECTOR_LABELS, size: int = 64) -> Path:
    import transformers as tf

    backbone = tf.RTDetrResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16, 32, 64],
        depths=[1, 1, 1, 1],
        out_features=["stage2", "stage3", "stage4"],
    )
    cfg = tf.RTDetrConfig(
        backbone_config=backbone, encoder_hidden_dim=16, d_model=16, encoder_in_channels=[16, 32, 64],
        decoder_in_channels=[16, 16, 16], decoder_layers=1, encoder_layers=1, num_queries=20,
        decoder_ffn_dim=32,
        encoder_ffn_dim=32, decoder_attention_heads=2, encoder_attention_heads=2, decoder_n_points=2,
        num_denoising=0, **_labels(names),
    )  # fmt: skip
    tf.RTDetrForObjectDetection(cfg).save_pretrained(path)
    tf.RTDetrImageProcessor(size={"height": size, "width": size}).save_pretrained(path)
    return path


def yolos(path: Path, names: dict[int, str] = DETECTOR_LABELS) -> Path:
    import transformers as tf

    cfg = tf.YolosConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, image_size=[64, 96],
        patch_size=16, num_detection_tokens=10, **_labels(names),
    )  # fmt: skip
    tf.YolosForObjectDetection(cfg).save_pretrained(path)
    tf.YolosImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(path)
    return path


def _towers(text_cls: Any, vision_cls: Any, tok: Any, image_size: int, patch_size: int) -> dict[str, Any]:
    """Tiny text and vision towers of a CLIP-style model (OWL-ViT's are CLIP's), as config dicts."""
    tiny = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    text = text_cls(
        vocab_size=len(tok), max_position_embeddings=64, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id or 0, **tiny,
    )  # fmt: skip
    vision = vision_cls(image_size=image_size, patch_size=patch_size, **tiny)
    return {"text_config": text.to_dict(), "vision_config": vision.to_dict()}


def owlvit(path: Path) -> Path:
    import transformers as tf

    tok = clip_tokenizer()
    towers = _towers(tf.OwlViTTextConfig, tf.OwlViTVisionConfig, tok, image_size=64, patch_size=16)
    tf.OwlViTForObjectDetection(tf.OwlViTConfig(**towers, projection_dim=32)).save_pretrained(path)
    image = tf.OwlViTImageProcessor(size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64})
    tf.OwlViTProcessor(image_processor=image, tokenizer=tok).save_pretrained(path)
    return path


def vit_classifier(path: Path, names: dict[int, str], size: int = 32) -> Path:
    import transformers as tf

    cfg = tf.ViTConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, image_size=size,
        patch_size=8, **_labels(names),
    )  # fmt: skip
    tf.ViTForImageClassification(cfg).save_pretrained(path)
    tf.ViTImageProcessor(size={"height": size, "width": size}).save_pretrained(path)
    return path


def resnet_classifier(path: Path, names: dict[int, str]) -> Path:
    import transformers as tf

    cfg = tf.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], **_labels(names))
    tf.ResNetForImageClassification(cfg).save_pretrained(path)
    tf.ConvNextImageProcessor(size={"shortest_edge": 40}, crop_pct=0.875).save_pretrained(path)
    return path


def clip(path: Path) -> Path:
    import transformers as tf

    tok = clip_tokenizer()
    towers = _towers(tf.CLIPTextConfig, tf.CLIPVisionConfig, tok, image_size=32, patch_size=8)
    tf.CLIPModel(tf.CLIPConfig(**towers, projection_dim=16)).save_pretrained(path)
    image = tf.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    tf.CLIPProcessor(image_processor=image, tokenizer=tok).save_pretrained(path)
    return path
