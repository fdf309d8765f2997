"""Start the real app (uvicorn) with chosen settings, for tests that share one server per module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from app.main import create_app
from tests.support.live_server import live_server
from tests.support.scripted_openai import ScriptedOpenAI
from tests.support.settings import REDIS_URL, isolated_settings

RUNTIME_PATTERNS = ("stats", "ratelimit", "ws", "outbox", "auth", "lti", "room", "turn")


def clear_runtime(prefix: str) -> None:
    """Forget limits, tickets, revocations and LTI state left under a shared prefix."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for pattern in RUNTIME_PATTERNS:
            keys = list(client.scan_iter(match=f"{prefix}:{pattern}*", count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@contextmanager
def serve_tutor(
    prefix: str, llm: ScriptedOpenAI, data_dir: Path, log_level: str = "warning", **overrides: Any
) -> Iterator[tuple[str, Any]]:
    """``(base_url, settings)`` of a server over the sample index under ``prefix``."""
    values: dict[str, Any] = {
        "openai_api_base": llm.base_url,
        "openai_model_comprehensive": "gpt-4o-mini",
        "openai_model_personalized": "gpt-4o-nano",
        "stream_flush_interval_ms": 20,
        "cache_enabled": False,
        "rag_grounding": "off",  # scripted filler answers are not material (see tests/conftest.py)
    }
    values.update(overrides)
    settings = isolated_settings(prefix, data_dir, **values)
    clear_runtime(prefix)
    try:
        with live_server(create_app(settings), log_level=log_level) as url:
            yield url, settings
    finally:
        clear_runtime(prefix)
