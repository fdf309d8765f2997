"""Bring an existing chunk index up to the schema in ``indexes/`` without re-embedding anything.

RediSearch cannot change a field of an existing index, and RedisVL leaves an existing index as it
is. When a tag field's separator changed (``doc_id`` went from "," to "|" so that file names with
commas can be replaced and pruned), the index definition is dropped — its hashes stay — and
created again from the YAML; RediSearch then indexes the stored chunks anew in the background.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from redisvl.index import SearchIndex
from redisvl.schema import IndexSchema


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def live_tag_separators(client: redis.Redis, index_name: str) -> dict[str, str] | None:
    """Tag field → separator of the index as Redis has it, or None when there is no index."""
    try:
        info: list[Any] = client.execute_command("FT.INFO", index_name)  # type: ignore[no-untyped-call]
    except redis.ResponseError:
        return None
    pairs = dict(zip(info[::2], info[1::2], strict=False))
    attributes: list[Any] = pairs.get(b"attributes") or pairs.get("attributes") or []
    out: dict[str, str] = {}
    for attribute in attributes:
        words = [_text(w) for w in attribute]
        if "TAG" in words and "SEPARATOR" in words:
            out[words[words.index("identifier") + 1]] = words[words.index("SEPARATOR") + 1]
    return out


def wanted_tag_separators(schema: IndexSchema) -> dict[str, str]:
    return {
        name: field.attrs.separator for name, field in schema.fields.items() if field.type == "tag"
    }


def reconcile(client: redis.Redis, schema: IndexSchema) -> list[str]:
    """Rebuild the index definition if a tag separator differs; return the fields that did."""
    live = live_tag_separators(client, schema.index.name)
    if live is None:
        return []
    wanted = wanted_tag_separators(schema)
    changed = sorted(n for n, sep in wanted.items() if n in live and live[n] != sep)
    if changed:
        client.execute_command("FT.DROPINDEX", schema.index.name)  # type: ignore[no-untyped-call]
        SearchIndex(schema, redis_client=client).create(overwrite=False)
        wait_indexed(client, schema.index.name)
    return changed


def wait_indexed(client: redis.Redis, index_name: str, seconds: float = 600.0) -> None:
    """Block until RediSearch has indexed the stored hashes (ingestion must see all chunks)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        info: list[Any] = client.execute_command("FT.INFO", index_name)  # type: ignore[no-untyped-call]
        pairs = {_text(k): v for k, v in zip(info[::2], info[1::2], strict=False)}
        if str(_text(pairs.get("indexing", 0))) in ("0", "0.0"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"index {index_name} is still indexing after {seconds:.0f} s")
