"""Evidence clips: the seconds before and after an alert's start, as an MP4 beside its snapshot.

Each camera keeps a bounded ring of what it recently received (``ClipRing``), filled by its producer
thread as it decodes, so a clip costs the inference loop nothing and needs no second connection to the
camera:

- **H.264 / H.265** (RTSP cameras, most files): the encoded packets themselves, made self-contained at
  demux time (Annex B with the parameter sets repeated on every keyframe: FFmpeg's ``*_mp4toannexb`` and
  ``dump_extra`` bitstream filters), and remuxed into MP4 with PyAV — no re-encoding, so a clip is
  exactly what the camera sent;
- **anything else** (USB/V4L2 cameras, other codecs): small JPEGs of the decoded frames, at most
  ``fps`` a second and ``width`` pixels wide, encoded once to H.264 when a clip is written.

Packets are stamped with their own presentation times in the pipeline's frame clock (the offset comes
from the frame the decoder hands out as it consumes them), so clips are cut in the same clock as
alerts. A packet clip starts at the keyframe at or before ``start``: decoders need it, so it may begin
up to one keyframe interval early. The ring keeps whole
keyframe intervals covering ``seconds``, capped at ``max_bytes`` (a camera with very long keyframe
intervals then loses its oldest interval first, and its clips start later; the clip writer logs it).
A reconnect or a file's loop starts a new *segment* (new stream parameters and timestamps); a clip comes
from one segment.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

PASSTHROUGH = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}
"""Codecs remuxed as they came, and the filter that makes their packets self-contained."""


@dataclass(slots=True)
class _Entry:
    ts: float
    data: bytes
    key: bool = True
    pts: int | None = None
    dts: int | None = None


@dataclass(slots=True)
class _Segment:
    mode: Literal["packets", "jpeg"]
    codec: str = ""
    width: int = 0
    height: int = 0
    time_base: Fraction = Fraction(1, 90000)
    rate: Fraction | None = None
    gops: deque[list[_Entry]] = field(default_factory=deque)
    """Packets: runs of entries each starting at a keyframe. JPEG: one run per frame."""
    size: int = 0

    @property
    def first_ts(self) -> float:
        return self.gops[0][0].ts if self.gops else float("inf")

    @property
    def last_ts(self) -> float:
        return self.gops[-1][-1].ts if self.gops else float("-inf")


@dataclass(frozen=True, slots=True)
class Clip:
    """What a clip is made of, copied out of the ring (the writer works on it without the lock)."""

    mode: Literal["packets", "jpeg"]
    entries: list[_Entry]
    codec: str
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None
    fps: float

    @property
    def start(self) -> float:
        return self.entries[0].ts

    @property
    def end(self) -> float:
        return self.entries[-1].ts


class ClipRing:
    """One camera's recent video. The producer thread writes (``begin``, ``add``, ``commit``); the clip
    writer reads (``newest``, ``take``) under the lock."""

    def __init__(self, seconds: float, max_bytes: int, *, fps: float = 5.0, width: int = 640) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.fps = fps
        self.width = width
        self.trimmed_over_size = 0
        """Keyframe intervals dropped to stay under ``max_bytes`` while still inside ``seconds``."""
        self._lock = threading.Lock()
        self._segments: deque[_Segment] = deque()
        self._pending: list[_Entry] = []
        self._filter: Any = None
        self._next_jpeg = float("-inf")
        self._newest = float("-inf")
        self._holds: dict[str, float] = {}
        self._frame_time: float | None = None

    # --- the producer thread ----------------------------------------------------------------------

    def begin(self, stream: Any | None) -> None:
        """A stream (re)opened: a new segment. ``stream``: PyAV's video stream whose packets come next
        (None for sources that have no packets, which are kept as JPEGs)."""
        self._pending = []
        self._filter = None
        self._frame_time = None
        codec = getattr(getattr(stream, "codec_context", None), "name", "") if stream is not None else ""
        if codec in PASSTHROUGH:
            from av.bitstream import BitStreamFilterContext

            try:
                self._filter = BitStreamFilterContext(
                    f"{PASSTHROUGH[codec]},dump_extra=freq=keyframe", stream
                )
            except (av.error.FFmpegError, ValueError) as exc:
                log.warning("clips: cannot pass %s packets through (%s); keeping JPEGs instead", codec, exc)
        if self._filter is not None:
            assert stream is not None
            segment = _Segment(
                "packets", codec, stream.width, stream.height, Fraction(stream.time_base),
                stream.average_rate or stream.guessed_rate,
            )  # fmt: skip
        else:
            segment = _Segment("jpeg")
        with self._lock:
            self._segments.append(segment)

    def add(self, packet: Any) -> None:
        """A demuxed packet (before decoding); kept until ``commit`` stamps it."""
        if self._filter is None or not packet.size:
            return
        copy = av.Packet(bytes(packet))  # the filter takes its packet's data: the decoder needs this one
        copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
        copy.is_keyframe = packet.is_keyframe
        try:
            for out in self._filter.filter(copy):
                if out.size:
                    self._pending.append(_Entry(0.0, bytes(out), bool(out.is_keyframe), out.pts, out.dts))
        except av.error.FFmpegError:
            pass  # a damaged packet: the decoder counts it; the clip just lacks it

    def decoded(self, pts_seconds: float | None) -> None:
        """The decoder is handing out the frame with this presentation time (``commit`` follows)."""
        self._frame_time = pts_seconds

    def commit(self, ts: float, image: npt.NDArray[np.uint8] | None = None) -> None:
        """A frame at ``ts`` came out of the decoder: stamp the packets it consumed — each at its own
        presentation time in this clock (decoders hold several packets back), or at ``ts`` when the
        stream has no timestamps; in JPEG mode keep a small JPEG of it (at most ``fps`` a second)."""
        with self._lock:
            if not self._segments:
                self._segments.append(_Segment("jpeg"))
            segment = self._segments[-1]
        entries: list[_Entry] = []
        if segment.mode == "packets":
            offset = None if self._frame_time is None else ts - self._frame_time
            for entry in self._pending:
                entry.ts = (
                    ts
                    if offset is None or entry.pts is None
                    else float(entry.pts * segment.time_base) + offset
                )
            entries, self._pending = self._pending, []
        elif image is not None and ts >= self._next_jpeg:
            self._next_jpeg = ts + 1.0 / self.fps if self.fps > 0 else ts
            entries = [_Entry(ts, _jpeg(image, self.width))]
        with self._lock:
            self._newest = ts
            for entry in entries:
                if entry.key or not segment.gops:
                    if not entry.key and segment.mode == "packets":
                        continue  # the stream began mid-interval: undecodable until a keyframe
                    segment.gops.append([entry])
                else:
                    segment.gops[-1].append(entry)
                segment.size += len(entry.data)
            self._trim(ts)

    def hold(self, key: str, start: float) -> None:
        """Keep what a clip waiting to be written needs, from ``start`` on, until ``release(key)``
        (a file decodes faster than real time: its ring would otherwise move past a clip's start before
        the clip's end has arrived). ``max_bytes`` still wins."""
        with self._lock:
            self._holds[key] = start

    def release(self, key: str) -> None:
        with self._lock:
            self._holds.pop(key, None)

    def _trim(self, now: float) -> None:
        horizon = min(now - self.seconds, *self._holds.values()) if self._holds else now - self.seconds
        while len(self._segments) > 1 and self._segments[0].last_ts < horizon:
            self._segments.popleft()
        total = sum(s.size for s in self._segments)
        for segment in self._segments:
            gops = segment.gops
            while len(gops) > 1 and (gops[1][0].ts <= horizon or total > self.max_bytes):
                if gops[1][0].ts > horizon:
                    self.trimmed_over_size += 1
                dropped = sum(len(e.data) for e in gops.popleft())
                segment.size -= dropped
                total -= dropped

    # --- the clip writer -----------------------------------------------------------------------------

    def newest(self) -> float:
        """Time of the newest frame committed."""
        with self._lock:
            return self._newest

    def take(self, start: float, end: float) -> Clip | None:
        """The entries covering [start, end] from the newest segment that has any (None: nothing)."""
        with self._lock:
            for segment in reversed(self._segments):
                if segment.first_ts > end or segment.last_ts < start or not segment.gops:
                    continue
                gops = list(segment.gops)
                first = max((i for i, g in enumerate(gops) if g[0].ts <= start), default=0)
                entries = [e for g in gops[first:] for e in g]
                # cut in decode order after the last packet shown by ``end``: a frame shown before it
                # may need a reference shown after it (B-frames), which comes earlier in decode order
                last = max((i for i, e in enumerate(entries) if e.ts <= end), default=-1)
                entries = entries[: last + 1]
                if not entries:
                    continue
                return Clip(
                    segment.mode, entries, segment.codec, segment.width, segment.height,
                    segment.time_base, segment.rate, self.fps,
                )  # fmt: skip
        return None


def _jpeg(image: npt.NDArray[np.uint8], width: int) -> bytes:
    h, w = image.shape[:2]
    if w > width > 0:
        size = (width, max(2, round(h * width / w / 2) * 2))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:  # pragma: no cover - OpenCV encodes any BGR image
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def write_clip(clip: Clip, path: Path) -> None:
    """Write ``clip`` as an MP4 at ``path`` (through a temporary file: a reader never sees half a
    clip). Raises OSError (the disk) or av's errors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            if clip.mode == "packets":
                _remux(clip, out)
            else:
                _encode(clip, out)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remux(clip: Clip, out: Any) -> None:
    stream = out.add_mux_stream(clip.codec, rate=clip.rate, width=clip.width, height=clip.height)
    stream.time_base = clip.time_base
    origin = min((e.dts if e.dts is not None else e.pts or 0) for e in clip.entries)
    for entry in clip.entries:
        packet = av.Packet(entry.data)
        packet.pts = None if entry.pts is None else entry.pts - origin
        packet.dts = None if entry.dts is None else entry.dts - origin
        packet.time_base = clip.time_base
        packet.is_keyframe = entry.key
        packet.stream = stream
        out.mux(packet)


def _encode(clip: Clip, out: Any) -> None:
    h, w = _unjpeg(clip.entries[0].data).shape[:2]
    stream = out.add_stream("libx264", rate=max(1, round(clip.fps)))
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.codec_context.time_base = Fraction(1, 1000)  # milliseconds: the JPEGs' own times
    stream.options = {"preset": "veryfast", "crf": "28"}
    last = -1
    for entry in clip.entries:
        image = _unjpeg(entry.data)
        pts = round((entry.ts - clip.start) * 1000)
        if image.shape[:2] != (h, w) or pts <= last:
            continue
        last = pts
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = Fraction(1, 1000)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _unjpeg(data: bytes) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # pragma: no cover - the ring holds only JPEGs OpenCV wrote
        raise ValueError("not a JPEG")
    return np.asarray(image, np.uint8)
