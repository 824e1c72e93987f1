"""Camera sources: files, RTSP and USB, each decoded by one producer thread."""

from __future__ import annotations

from ..config import CameraConfig
from .base import CameraState, Producer, SourceError, VideoSource

__all__ = ["CameraState", "Producer", "SourceError", "VideoSource", "create_source"]


def create_source(camera: CameraConfig) -> VideoSource:
    if camera.kind == "rtsp":
        from .rtsp import RtspSource

        return RtspSource(camera)
    if camera.kind == "usb":
        from .usb import UsbSource

        return UsbSource(camera.url, camera.decode_width)
    from .file import FileSource

    return FileSource(
        camera.url,
        realtime=camera.realtime,
        loop=camera.loop,
        hwaccel=None if camera.hwaccel == "none" else camera.hwaccel,
        name=camera.name,
        width=camera.decode_width,
    )
