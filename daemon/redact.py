"""Credential redaction: the one function every exit (logs, events, status, metrics) goes through.

URLs are split by hand, not by ``urllib``: people paste camera passwords unescaped, and a password
holding ``#``, ``?``, ``/`` or ``@`` makes ``urlsplit`` cut the authority short and hand part of the
password over as a path or fragment. Here the user information runs to the *last* ``@`` of the URL, so
the whole password is found (a path that itself holds ``@`` is masked too much, never too little).
Passwords that arrive from the environment or a file are registered and masked wherever they appear —
if they are at least ``MIN_SECRET_LENGTH`` characters long: masking every ``a`` of a one-letter password
would reveal it rather than hide it. Shorter ones are still masked inside URLs.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from urllib.parse import quote, unquote

MASK = "***"
MIN_SECRET_LENGTH = 4

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# In free text a URL ends at white space; its user information runs to the last '@' before that.
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>\S*)@")

_secrets: set[str] = set()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class UrlParts:
    """``scheme://user:password@rest`` split so that ``password`` is whole, as written (not decoded)."""

    scheme: str
    """With its ``://``."""
    user: str | None
    password: str | None
    rest: str
    """Host, port, path, query: everything after the user information."""

    def with_password(self, password: str | None) -> str:
        if self.user is None and password is None:
            return self.scheme + self.rest
        userinfo = (self.user or "") + (f":{password}" if password is not None else "")
        return f"{self.scheme}{userinfo}@{self.rest}"

    def encoded(self) -> str:
        """The URL with its password percent-encoded, so any URL parser (FFmpeg's too) reads it whole.
        An already encoded password is left as it is."""
        if self.password is None:
            return self.with_password(None)
        return self.with_password(quote(unquote(self.password), safe=""))


def split_url(url: str) -> UrlParts | None:
    """Split ``scheme://[user[:password]@]rest``; None for what is not a URL (a file path)."""
    m = _SCHEME.match(url)
    if m is None:
        return None
    body = url[m.end() :]
    at = body.rfind("@")
    if at < 0:
        return UrlParts(m.group(), None, None, body)
    user, sep, password = body[:at].partition(":")
    return UrlParts(m.group(), user, password if sep else None, body[at + 1 :])


def url_password(url: str) -> str | None:
    """The password written in a URL, decoded (``p%40ss`` → ``p@ss``); None if it has none."""
    parts = split_url(url)
    return unquote(parts.password) if parts is not None and parts.password is not None else None


def register_secret(secret: str | None) -> None:
    """Mask this exact string (and its percent-encoded form) in everything redacted from now on.
    Secrets shorter than MIN_SECRET_LENGTH are only masked inside URLs."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(secret)
        _secrets.add(quote(secret, safe=""))


def redact_url(url: str) -> str:
    """``rtsp://user:pass@host/x`` → ``rtsp://user:***@host/x``; URLs without a password are unchanged."""
    parts = split_url(url)
    if parts is None or parts.password is None:
        return redact_text(url)
    return redact_text(parts.with_password(MASK))


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
