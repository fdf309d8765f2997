"""Settings for tests and benchmarks: everything under a private key prefix, SQLite in a given
folder, local models, no `.env` and no OpenAI key from the developer's environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.core.config import Settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6380/0")


def isolated_settings(prefix: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "key_prefix": prefix,
        "redis_knowledge_url": REDIS_URL,
        "redis_cache_url": REDIS_URL,
        "data_dir": data_dir,
        "database_url": f"sqlite+aiosqlite:///{data_dir / 'tutor.db'}",
        "openai_api_key": None,
        "openai_api_base": None,
        "embedding_provider": "local",
        "log_level": "INFO",
        "presence_heartbeat_seconds": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)
