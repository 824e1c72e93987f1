"""Crops prepared exactly as a transformers image processor would, as one batch.

A classifier sees what it was trained on only if its crops are resized, centre-cropped, rescaled and
normalised as its ``preprocessor_config.json`` says. Calling the processor per look would do that, but
with a Python loop over its options per call; this does the same operations (the torchvision backend's:
antialiased resize of uint8, centre crop with the processor's rounding, the fused rescale + normalise) on
a list of crops once, with the geometry functions transformers itself uses. A test holds it to
``AutoImageProcessor`` within 1e-5 for ViT-, CLIP-, ConvNeXt-, SigLIP- and MobileNet-style configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

SUPPORTED_SIZES = "{height, width}, {shortest_edge}, {shortest_edge, longest_edge}"


@dataclass(frozen=True, slots=True)
class CropPreprocessor:
    """What a processor config asks for, read once. ``resize`` is ``("fixed", h, w)``,
    ``("shortest", edge, longest_or_0)`` or ``("convnext", edge, crop_pct)``."""

    resize: tuple[str, float, float] | None
    interpolation: Any
    crop: tuple[int, int] | None
    rescale: float | None
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None

    @classmethod
    def from_processor(cls, processor: Any) -> CropPreprocessor:
        """Read a loaded image processor's options; ValueError for a size rule this does not know."""
        from torchvision.transforms.v2 import functional as tvf
        from transformers.image_utils import PILImageResampling, pil_torch_interpolation_mapping

        resize: tuple[str, float, float] | None = None
        if getattr(processor, "do_resize", True):
            size = _size(getattr(processor, "size", None))
            crop_pct = getattr(processor, "crop_pct", None)
            if crop_pct and size.get("shortest_edge"):
                resize = ("convnext", float(size["shortest_edge"]), float(crop_pct))
            elif size.get("height") and size.get("width"):
                resize = ("fixed", float(size["height"]), float(size["width"]))
            elif size.get("shortest_edge"):
                resize = ("shortest", float(size["shortest_edge"]), float(size.get("longest_edge") or 0))
            else:
                raise ValueError(f"image processor size {size} is not one of {SUPPORTED_SIZES}")
        resample = getattr(processor, "resample", None)
        if resample is None:
            interpolation = tvf.InterpolationMode.BILINEAR
        elif isinstance(resample, (int, PILImageResampling)):
            interpolation = pil_torch_interpolation_mapping[PILImageResampling(resample)]
        else:
            interpolation = resample
        crop = None
        if getattr(processor, "do_center_crop", False):
            cs = _size(getattr(processor, "crop_size", None))
            if not (cs.get("height") and cs.get("width")):
                raise ValueError(f"image processor crop_size {cs} needs height and width")
            crop = (int(cs["height"]), int(cs["width"]))
        rescale = float(processor.rescale_factor) if getattr(processor, "do_rescale", False) else None
        normalise = getattr(processor, "do_normalize", False)
        mean = tuple(map(float, _triple(processor.image_mean))) if normalise else None
        std = tuple(map(float, _triple(processor.image_std))) if normalise else None
        return cls(resize, interpolation, crop, rescale, mean, std)

    @property
    def output_size(self) -> tuple[int, int] | None:
        """(height, width) of every prepared crop, when the config fixes it."""
        if self.crop is not None:
            return self.crop
        if self.resize is not None and self.resize[0] in ("fixed", "convnext"):
            kind, a, b = self.resize
            return (int(a), int(b)) if kind == "fixed" else (int(a), int(a))
        return None

    def __call__(self, crops: Sequence[npt.NDArray[np.uint8]], device: Any = "cpu") -> Any:
        """RGB ``(h, w, 3)`` uint8 crops → a float32 ``(N, 3, H, W)`` tensor for the model."""
        import torch
        from torchvision.transforms.v2 import functional as tvf

        prepared = []
        for crop in crops:
            image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).to(device)
            image = self._resize(image, tvf)
            if self.crop is not None:
                image = center_crop(image, *self.crop, tvf)
            prepared.append(image)
        shapes = {tuple(p.shape) for p in prepared}
        if len(shapes) > 1:
            raise ValueError(f"crops prepared to different sizes {sorted(shapes)}: the processor config "
                             "gives no fixed output size, so they cannot be batched")  # fmt: skip
        batch = torch.stack(prepared)
        if self.mean is not None and self.std is not None:
            scale = 1.0 / self.rescale if self.rescale else 1.0
            mean = torch.tensor(self.mean, device=batch.device) * scale  # fused as transformers does
            std = torch.tensor(self.std, device=batch.device) * scale
            return tvf.normalize(batch.to(torch.float32), mean.tolist(), std.tolist())
        batch = batch.to(torch.float32)
        return batch * self.rescale if self.rescale else batch

    def _resize(self, image: Any, tvf: Any) -> Any:
        if self.resize is None:
            return image
        from transformers.image_transforms import get_resize_output_image_size, get_size_with_aspect_ratio
        from transformers.image_utils import ChannelDimension

        kind, a, b = self.resize
        size: tuple[int, ...]
        if kind == "fixed":
            size = (int(a), int(b))
        elif kind == "convnext":
            edge = int(a)
            if edge >= 384:  # ConvNeXt warps at 384 and above, and crops below
                return tvf.resize(image, [edge, edge], interpolation=self.interpolation, antialias=True)
            size = tuple(
                get_resize_output_image_size(
                    image,
                    size=int(edge / b),
                    default_to_square=False,
                    input_data_format=ChannelDimension.FIRST,
                )
            )
            image = tvf.resize(image, list(size), interpolation=self.interpolation, antialias=True)
            return center_crop(image, edge, edge, tvf)
        elif b:
            size = tuple(get_size_with_aspect_ratio(image.shape[-2:], int(a), int(b)))
        else:
            size = tuple(
                get_resize_output_image_size(
                    image, size=int(a), default_to_square=False, input_data_format=ChannelDimension.FIRST
                )
            )
        return tvf.resize(image, list(size), interpolation=self.interpolation, antialias=True)


def center_crop(image: Any, height: int, width: int, tvf: Any) -> Any:
    """transformers' centre crop: pad (zeros) when the image is smaller, offsets rounded down."""
    h, w = image.shape[-2:]
    if width > w or height > h:
        pad = [
            (width - w) // 2 if width > w else 0,
            (height - h) // 2 if height > h else 0,
            (width - w + 1) // 2 if width > w else 0,
            (height - h + 1) // 2 if height > h else 0,
        ]
        image = tvf.pad(image, pad, fill=0)
        h, w = image.shape[-2:]
        if (h, w) == (height, width):
            return image
    return tvf.crop(image, int((h - height) / 2.0), int((w - width) / 2.0), height, width)


def _size(size: Any) -> dict[str, Any]:
    if size is None:
        return {}
    if isinstance(size, dict):
        return {k: v for k, v in size.items() if v}
    if isinstance(size, int):
        return {"height": size, "width": size}
    return {
        k: getattr(size, k)
        for k in ("height", "width", "shortest_edge", "longest_edge")
        if getattr(size, k, None)
    }


def _triple(value: Any) -> list[float]:
    return [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
