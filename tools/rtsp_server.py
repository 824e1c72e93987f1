#!/usr/bin/env python3
"""A real RTSP camera for tests and trials: GStreamer's RTSP server streaming an H.264 test pattern.

Runs under the *system* Python (it needs PyGObject and the GstRtspServer typelib from Debian:
python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base/-good/-ugly), not the project's venv:

    /usr/bin/python3 tools/rtsp_server.py --port 8554 --fps 10
    # then: rtsp://127.0.0.1:8554/test

``--freeze-after S`` stops sending frames S seconds into each session while keeping the connection
open, as a hung camera does. Prints "ready" on stdout once it listens.
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--freeze-after", type=float, default=0.0)
    args = ap.parse_args()
    Gst.init(None)
    w, h = args.size.split("x")
    launch = (
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate={args.fps}/1 "
        f"! valve name=valve drop=false "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={max(1, args.fps)} bitrate=300 "
        f"! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(False)  # a fresh pipeline (and freeze timer) per client session

    def on_configure(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        if args.freeze_after > 0:
            valve = media.get_element().get_by_name("valve")
            freeze = lambda: valve.set_property("drop", True) and False  # noqa: E731 - run once
            GLib.timeout_add(int(args.freeze_after * 1000), freeze)

    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
