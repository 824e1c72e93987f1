"""A real Open Inference Protocol server for the scale-out tests: KServe's Python ``ModelServer``
(tools/oip_server.py) hosting ONNX models in ONNX Runtime, on REST and gRPC, from an environment of its
own (``$SITEWATCH_OIP_PYTHON``, else ``.cache/oip-venv``: tests/side_venv.py)."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from helpers import terminate
from mosquitto import free_port
from side_venv import ROOT, side_python

OIP_REQUIREMENTS = ["kserve==0.21.0", "onnxruntime>=1.17"]


def oip_python() -> Path:
    return side_python("oip-venv", OIP_REQUIREMENTS, "SITEWATCH_OIP_PYTHON")


@dataclass
class OipServer:
    model_dirs: list[Path]
    log: Path
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://127.0.0.1:{self.grpc_port}"

    def start(self, timeout: float = 90.0) -> OipServer:
        args = [str(oip_python()), str(ROOT / "tools" / "oip_server.py")]
        for directory in self.model_dirs:
            args += ["--model-dir", str(directory)]
        args += ["--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the OIP server did not get ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None
