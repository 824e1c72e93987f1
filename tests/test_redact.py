"""Credentials never leave the process: URL passwords and registered secrets are masked."""

from __future__ import annotations

import logging

import pytest

from daemon.logs import RedactingFormatter
from daemon.redact import redact_text, redact_url, register_secret


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:pass@10.0.0.5/stream", "rtsp://admin:***@10.0.0.5/stream"),
        ("rtsp://cam.user:p%40ss@host:554/a?b=c", "rtsp://cam.user:***@host:554/a?b=c"),
        ("rtsp://ops@site.com:pa:ss@host/x", "rtsp://ops@site.com:***@host/x"),
        ("rtsp://user%40corp:pw@host/x", "rtsp://user%40corp:***@host/x"),
        ("rtsp://viewer@host/x", "rtsp://viewer@host/x"),
        ("rtsp://host/x", "rtsp://host/x"),
        ("/videos/clip.mp4", "/videos/clip.mp4"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_masks_urls_inside_messages() -> None:
    msg = "cannot open rtsp://a:b1@h/x and rtsps://c.d:e2@h2:322/y: timeout"
    assert redact_text(msg) == "cannot open rtsp://a:***@h/x and rtsps://c.d:***@h2:322/y: timeout"


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret("correct-horse-battery")
    assert redact_text("auth failed for correct-horse-battery!") == "auth failed for ***!"


def test_log_lines_and_tracebacks_are_redacted() -> None:
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ConnectionError("rtsp://root:toor@cam/1 refused")
    except ConnectionError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "open %s", ("rtsp://root:toor@cam/1",), sys.exc_info()
        )
    line = formatter.format(record)
    assert "toor" not in line and line.count("rtsp://root:***@cam/1") == 3  # message, source line, error
