"""Logging from ``LOG_LEVEL``. At DEBUG the chat path logs connection lifecycle, routing, retrieval
distances and token usage; keys and passwords are never logged (URLs go through ``redact``)."""

from __future__ import annotations

import logging

from app.core.config import Settings
from app.observability.logs import RequestIds, json_formatter

NOISY = ("httpx", "httpcore", "openai", "llama_index", "redisvl", "pypdf", "asyncio", "aiosqlite")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=False,
    )
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    for handler in root.handlers:
        if not any(isinstance(f, RequestIds) for f in handler.filters):
            handler.addFilter(RequestIds())
        if settings.log_format == "json":
            handler.setFormatter(json_formatter())
    libraries = logging.INFO if settings.log_level == "DEBUG" else logging.WARNING
    for name in NOISY:
        logging.getLogger(name).setLevel(libraries)
    # redisvl puts its own stdout handler on each of its loggers: route them through ours.
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and name.lower().lstrip("[").startswith("redisvl"):
            logger.handlers.clear()
            logger.setLevel(libraries)
            logger.propagate = True
