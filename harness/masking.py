"""Secrets: refused where they do not belong, masked everywhere as a second line of defence.

A profile never holds a password: `scheme://user:password@host` in any of its URLs is refused
when the profile loads (SSH logs in with a key or the agent). Whatever still reaches text the
harness writes (a password in a store URL, a library's error message quoting a URL, the value
of `ssh.password_env`) goes through `mask()`: every log record, every reason stored, every
report page and every error line (LAVA masks its job secrets in logs the same way).
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

MASK = "****"
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*):(?P<secret>[^\s/@]+)@")
_values: set[str] = set()
_lock = threading.Lock()


def password_in_url(url: str) -> str | None:
    """The refusal message when `url` carries a password, else None."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    if not password:
        return None
    return (f"{mask(url)} holds a password; a profile never does: log in with an SSH key "
            "(ssh.key_file) or the SSH agent, and give a PDU or meter its credentials outside "
            "the profile")


def register(value: str | None) -> None:
    """Mask this value from now on (e.g. a password read from the environment)."""
    if value and len(value) >= 4:  # shorter values would mask ordinary words
        with _lock:
            _values.add(value)


def mask(text: str) -> str:
    """`text` with URL passwords and registered secrets replaced by ****."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    for value in _values:
        text = text.replace(value, MASK)
    return text


def mask_optional(text: str | None) -> str | None:
    return None if text is None else mask(text)


class _MaskedRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 (logging's name)
        return mask(super().getMessage())


def mask_logs() -> None:
    """Every log record's message, whatever handler formats it, is masked."""
    logging.setLogRecordFactory(_MaskedRecord)
