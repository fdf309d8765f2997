"""Which connection and which turn a log line belongs to, without passing ids through every call.

The WebSocket session sets the ids in context variables; asyncio copies the context into every
task it starts (the turn, its background record), so a line logged anywhere below carries them.
With ``LOG_FORMAT=json`` each line is one JSON object (python-json-logger) with these fields.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

CONNECTION_ID: ContextVar[str | None] = ContextVar("connection_id", default=None)
TURN_ID: ContextVar[str | None] = ContextVar("turn_id", default=None)
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RequestIds(logging.Filter):
    """Stamps ``connection_id`` and ``turn_id`` on every record (None outside a connection)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.connection_id = CONNECTION_ID.get()
        record.turn_id = TURN_ID.get()
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )
