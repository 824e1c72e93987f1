"""A real RTSP camera for the tests: tools/rtsp_server.py (GStreamer's RTSP server) run by the system
Python, which has PyGObject and the GstRtspServer typelib (.ci/run installs them)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mosquitto import free_port

SERVER = Path(__file__).parents[1] / "tools" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


@dataclass
class RtspServer:
    fps: int = 10
    freeze_after: float = 0.0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/test"

    def start(self) -> RtspServer:
        args = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), "--fps", str(self.fps)]
        if self.freeze_after:
            args += ["--freeze-after", str(self.freeze_after)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise RuntimeError("the RTSP server did not start")
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None
