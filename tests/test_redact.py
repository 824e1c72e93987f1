"""Credentials never leave the process: URL passwords and registered secrets are masked."""

from __future__ import annotations

import logging

import pytest

from sitewatch.daemon.logs import RedactingFormatter
from sitewatch.daemon.redact import redact_text, redact_url, register_secret


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
        # pasted passwords holding characters a URL parser takes for the end of the host part
        ("rtsp://admin:pa#ss@10.0.0.5/stream", "rtsp://admin:***@10.0.0.5/stream"),
        ("rtsp://admin:p?a/s#s@host:554/x?y=1", "rtsp://admin:***@host:554/x?y=1"),
        ("rtsp://admin:a@b@host/x", "rtsp://admin:***@host/x"),
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


def test_a_password_with_url_delimiters_is_masked_in_free_text() -> None:
    line = "camera gate: reconnecting (cannot open: rtsp://admin:p?a/s#s@10.0.0.5/x: Connection refused)"
    assert (
        redact_text(line)
        == "camera gate: reconnecting (cannot open: rtsp://admin:***@10.0.0.5/x: Connection refused)"
    )


def test_a_short_secret_is_not_masked_everywhere_which_would_reveal_it() -> None:
    register_secret("e")  # masking every 'e' would spell the password out
    assert redact_text("the camera went offline") == "the camera went offline"
    assert redact_url("rtsp://u:e@h/x") == "rtsp://u:***@h/x"  # inside a URL it is still masked


def test_the_url_opened_carries_the_whole_password_encoded() -> None:
    from sitewatch.daemon.config import CameraConfig
    from sitewatch.daemon.sources.rtsp import credentialed_url

    cam = CameraConfig(name="c", url="rtsp://admin:p?a/s#s@10.0.0.5:554/x")
    assert credentialed_url(cam) == "rtsp://admin:p%3Fa%2Fs%23s@10.0.0.5:554/x"
    assert redact_text("p?a/s#s and p%3Fa%2Fs%23s") == "*** and ***"  # registered, in both spellings
