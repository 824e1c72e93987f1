"""An Open Inference Protocol (KServe v2) server for tests and trials: KServe's own Python
``ModelServer`` hosting an ONNX model in ONNX Runtime, on REST and gRPC.

It runs in an environment of its own (KServe pins FastAPI, protobuf and more; tests/side_venv.py makes
one) and imports nothing of sitewatch: it stands for the Triton / KServe deployment a site would run.

    python tools/oip_server.py --model-dir REPO/sitewatch --http-port 8000 --grpc-port 8001

Each ``--model-dir`` (repeatable) is a model directory of a Triton repository (``sitewatch export --for
triton``): ``1/model.onnx`` is served under the name in its ``config.pbtxt``, else the directory's.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
from kserve import Model, ModelServer
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

DATATYPES = {"tensor(uint8)": "UINT8", "tensor(float)": "FP32", "tensor(float16)": "FP16"}


def _shape(dims: list[object]) -> list[int]:
    return [d if isinstance(d, int) else -1 for d in dims]


class OnnxModel(Model):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.output = self.session.get_outputs()[0]
        self.ready = True

    def get_input_types(self) -> list[dict[str, object]]:
        i = self.input
        return [{"name": i.name, "datatype": DATATYPES[i.type], "shape": _shape(i.shape)}]

    def get_output_types(self) -> list[dict[str, object]]:
        o = self.output
        return [{"name": o.name, "datatype": DATATYPES[o.type], "shape": _shape(o.shape)}]

    async def predict(self, payload, headers=None, response_headers=None):  # type: ignore[no-untyped-def]
        request: InferRequest = payload
        x = request.inputs[0].as_numpy()
        y = self.session.run([self.output.name], {self.input.name: x})[0].astype(np.float32)
        out = InferOutput(name=self.output.name, shape=list(y.shape), datatype="FP32")
        # raw bytes on both protocols: gRPC clients read raw_output_contents, REST clients asked for
        # the binary tensor extension (tritonclient does)
        out.set_data_from_numpy(y, binary_data=True)
        return InferResponse(
            response_id=request.id or "",
            model_name=self.name,
            infer_outputs=[out],
            from_grpc=request.from_grpc,
            use_binary_outputs=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", required=True, type=Path, action="append", help="a Triton model directory (repeatable)"
    )
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    args, _ = parser.parse_known_args()
    models = []
    for directory in args.model_dir:
        config = directory / "config.pbtxt"
        name = re.search(r'^name:\s*"([^"]+)"', config.read_text(), re.M) if config.exists() else None
        models.append(OnnxModel(name[1] if name else directory.name, directory / "1" / "model.onnx"))
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=1).start(models)


if __name__ == "__main__":
    main()
