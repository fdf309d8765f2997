"""Redis clients and the check that the server we talk to can search vectors.

Plain Redis (like the 7.0 server many machines run on 6379) has no RediSearch: every vector query
would fail later with a confusing error, so both ingestion and the server refuse it up front.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis


class SearchModuleMissingError(RuntimeError):
    """The Redis at the given URL cannot do vector search."""


def sync_client(url: str, timeout: float) -> redis.Redis:
    client: redis.Redis = redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
    )
    return client


def async_client(url: str, timeout: float) -> aioredis.Redis:
    """Create inside the running event loop: the pool binds to the first loop that uses it."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
    )
    return client


def _module_names(modules: list[Any]) -> set[str]:
    names: set[str] = set()
    for module in modules:
        name = module.get(b"name", module.get("name")) if isinstance(module, dict) else None
        if isinstance(name, bytes):
            name = name.decode()
        if name:
            names.add(str(name).lower())
    return names


def _explain(url: str, names: set[str]) -> str:
    return (
        f"The Redis at {redact(url)} has no search module (loaded modules: "
        f"{', '.join(sorted(names)) or 'none'}). Vector search needs Redis Stack with RediSearch: "
        "run `make redis` to start the project's own Redis Stack, or point REDIS_KNOWLEDGE_URL / "
        "REDIS_CACHE_URL at a Redis Stack server."
    )


def ensure_search_module(client: redis.Redis, url: str) -> None:
    modules: list[Any] = client.module_list()  # type: ignore[assignment]
    names = _module_names(modules)
    if "search" not in names and "ft" not in names:
        raise SearchModuleMissingError(_explain(url, names))


async def aensure_search_module(client: aioredis.Redis, url: str) -> None:
    modules: list[Any] = await client.module_list()
    names = _module_names(modules)
    if "search" not in names and "ft" not in names:
        raise SearchModuleMissingError(_explain(url, names))


def redact(url: str) -> str:
    """A Redis/DB URL without its password, fit for logs and error messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + ':***' if ':' in creds else user}@{host}"
