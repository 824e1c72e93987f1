"""Credential redaction: the one function every exit (logs, events, status, metrics) goes through.

URLs are parsed, not pattern-matched on a narrow shape, so user names holding ``.``, ``@`` or ``%`` are
handled; passwords that arrive from the environment are registered and masked wherever they appear.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://userinfo@ — userinfo runs to the last '@' before the host, so it may itself contain '@'.
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#]*)@")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Mask this exact string in everything redacted from now on (passwords read from env or files)."""
    if secret:
        with _lock:
            _secrets.add(secret)


def redact_url(url: str) -> str:
    """``rtsp://user:pass@host/x`` → ``rtsp://user:***@host/x``; URLs without a password are unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if "@" not in parts.netloc:
        return redact_text(url)
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, sep, _password = userinfo.partition(":")
    masked = f"{user}:{MASK}" if sep else user
    return redact_text(urlunsplit(parts._replace(netloc=f"{masked}@{host}")))


def redact_text(text: str) -> str:
    """Mask the passwords of every URL in free text, and every registered secret."""

    def _mask(match: re.Match[str]) -> str:
        user, sep, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:{MASK}@" if sep else match[0]

    text = _URL_USERINFO.sub(_mask, text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
