"""``sitewatch export --for triton DIR``: a Triton model repository for the configured YOLO model.

Layout (Triton's, which KServe's Triton runtime and MLServer's model-repository tooling read too)::

    DIR/<model.remote.model_name>/config.pbtxt
    DIR/<model.remote.model_name>/1/model.onnx

The ONNX is the model's export for ONNX Runtime, made and checked against torch exactly as
``model.runtime = "onnxruntime"`` makes it (export_cache.py), with the input normalisation moved into
the graph: the served model takes the letterboxed batch as ``UINT8 [N, H, W, 3]`` BGR — what the
client's letterbox holds anyway, a quarter of the bytes of float input on the network — and does
``Cast → reverse channels → NCHW → * 1/255`` itself, the same operations in the same order as the local
ONNX Runtime session, so the served model returns the same numbers. ``config.pbtxt`` enables dynamic
batching (requests of several replicas share one inference) and records the class names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import ConfigError, ModelConfig
from .export_cache import ExportFailed
from .remote import served_names

INPUT = "images"
MAX_BATCH = 32
QUEUE_DELAY_US = 2000
"""How long Triton may hold a request to batch it with others: a fraction of a frame at 15-30 fps."""


def wrap_uint8_input(source: Path, target: Path, channels: int | None = None) -> tuple[str, tuple[int, ...]]:
    """Write ``source`` (float NCHW RGB input) as ``target`` taking uint8 NHWC BGR; returns the output's
    name and shape as the graph declares it (-1 for dynamic axes). ``channels``: the output's box-values-
    plus-classes axis, which the exporter leaves symbolic; declared, the server's metadata tells a client
    how many classes the served model has (remote.py checks it against model.path)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    original = graph.input[0]
    inner = f"{original.name}_normalised"
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == original.name:
                node.input[i] = inner
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([2, 1, 0], np.int64), "sitewatch_bgr_to_rgb"),
            numpy_helper.from_array(np.array(1 / 255, np.float32), "sitewatch_scale"),
        ]
    )
    prefix = [
        helper.make_node("Cast", [INPUT], ["sitewatch_float"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["sitewatch_float", "sitewatch_bgr_to_rgb"], ["sitewatch_rgb"], axis=3),
        helper.make_node("Transpose", ["sitewatch_rgb"], ["sitewatch_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["sitewatch_nchw", "sitewatch_scale"], [inner]),
    ]
    nodes = prefix + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    new_input = helper.make_tensor_value_info(INPUT, TensorProto.UINT8, ["batch", "height", "width", 3])
    del graph.input[:]
    graph.input.extend([new_input])
    output_dims = graph.output[0].type.tensor_type.shape.dim
    if channels is not None and len(output_dims) == 3 and not output_dims[1].HasField("dim_value"):
        output_dims[1].dim_value = channels
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    dims = graph.output[0].type.tensor_type.shape.dim
    return graph.output[0].name, tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)


def config_pbtxt(name: str, output: str, output_shape: tuple[int, ...], names_json: str) -> str:
    dims = ", ".join(str(d) for d in output_shape[1:])  # without the batch axis
    escaped = names_json.replace("\\", "\\\\").replace('"', '\\"')
    return f"""# Written by `sitewatch export --for triton`: the model's ONNX export for ONNX Runtime,
# taking the letterboxed uint8 BGR batch (normalised inside the graph). See docs/scale-out.md.
name: "{name}"
backend: "onnxruntime"
max_batch_size: {MAX_BATCH}
input [
  {{
    name: "{INPUT}"
    data_type: TYPE_UINT8
    dims: [ -1, -1, 3 ]
  }}
]
output [
  {{
    name: "{output}"
    data_type: TYPE_FP32
    dims: [ {dims} ]
  }}
]
dynamic_batching {{
  max_queue_delay_microseconds: {QUEUE_DELAY_US}
}}
parameters {{
  key: "sitewatch_names"
  value: {{ string_value: "{escaped}" }}
}}
"""


def export_triton(cfg: ModelConfig, directory: Path) -> str:
    """Write the model repository; returns what was written. Raises ConfigError."""
    from .export_cache import entry_dir
    from .remote import local_info
    from .yolo import exported_detector

    model = Path(cfg.path)
    if model.suffix.lower() != ".pt":
        raise ConfigError([f"model.path: export --for triton needs the .pt model, not {model.name}"])
    try:  # made and checked against torch on the CPU, as the local runtime would be
        exported_detector(cfg, "onnxruntime", "cpu", False).close()
    except ExportFailed as exc:
        raise ConfigError([f"model.path: cannot export {model.name} to ONNX: {exc}"]) from None
    entry = entry_dir(cfg, "onnxruntime", False, 0, cfg.max_batch)
    onnx_file = next(entry.glob("*.onnx"))
    name = cfg.remote.model_name
    target = directory / name
    version = target / "1"
    version.mkdir(parents=True, exist_ok=True)
    info = local_info(onnx_file)
    channels = None if info.end2end else 4 + len(info.names)
    output, shape = wrap_uint8_input(onnx_file, version / "model.onnx", channels)
    (target / "config.pbtxt").write_text(config_pbtxt(name, output, shape, served_names(info)))
    return (
        f"{model.name}: Triton model repository {target} (model {name!r}, version 1, uint8 NHWC input, "
        f"{len(info.names)} classes, dynamic batching up to {MAX_BATCH})"
    )
