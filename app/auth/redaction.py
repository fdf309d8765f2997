"""Keep one-time tickets and tokens out of the server's logs.

Uvicorn logs every request line and every WebSocket handshake with its query string
(``GET /?ticket=…``, ``"WebSocket /ws/stream?ticket=…" [accepted]``). A ticket is short-lived and
single-use, but a log is read by more people than the ticket was meant for, so the values of
credential-bearing parameters are replaced before a record is formatted.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = re.compile(
    r"(?P<name>[?&](?:ticket|token|access_token|id_token|state|code)=)[^&\s\"']+", re.IGNORECASE
)
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return SECRET_PARAMS.sub(r"\g<name>[redacted]", text)


class SecretRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_secrets_in_server_logs() -> None:
    """Install the filter on uvicorn's loggers once per process (idempotent)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretRedactingFilter) for f in logger.filters):
            logger.addFilter(SecretRedactingFilter())
