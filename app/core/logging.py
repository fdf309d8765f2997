"""Logging from ``LOG_LEVEL``. At DEBUG the chat path logs connection lifecycle, routing, retrieval
distances and token usage; keys and passwords are never logged (URLs go through ``redact``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.observability.logs import RequestIds, json_formatter

if TYPE_CHECKING:  # the supervising process of ``tutor-serve`` logs without loading the settings
    from app.core.config import Settings

NOISY = ("httpx", "httpcore", "openai", "llama_index", "redisvl", "pypdf", "asyncio", "aiosqlite")


def configure_logging(settings: Settings) -> None:
    configure_log_output(settings.log_level, settings.log_format)


def configure_log_output(log_level: str, log_format: str) -> None:
    logging.basicConfig(
        level=log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=False,
    )
    root = logging.getLogger()
    root.setLevel(log_level)
    for handler in root.handlers:
        if not any(isinstance(f, RequestIds) for f in handler.filters):
            handler.addFilter(RequestIds())
        if log_format == "json":
            handler.setFormatter(json_formatter())
    libraries = logging.INFO if log_level == "DEBUG" else logging.WARNING
    for name in NOISY:
        logging.getLogger(name).setLevel(libraries)
    # redisvl puts its own stdout handler on each of its loggers: route them through ours.
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and name.lower().lstrip("[").startswith("redisvl"):
            logger.handlers.clear()
            logger.setLevel(libraries)
            logger.propagate = True
