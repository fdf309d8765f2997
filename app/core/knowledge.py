"""Where course knowledge lives in Redis: the chunk index and the per-course bookkeeping.

Both ingestion (writes) and the server (reads) build their view of it here, from the settings, so
they always agree on the index name, key prefixes and the course content version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from llama_index.vector_stores.redis import RedisVectorStore
from redisvl.schema import IndexSchema

from app.core.config import Settings
from app.core.schema import ChunkField, load_chunk_schema, model_slug

# LlamaIndex rebuilds each node (metadata included) from its serialized "_node_content".
RETURN_FIELDS = [
    ChunkField.ID.value,
    ChunkField.DOC_ID.value,
    ChunkField.TEXT.value,
    "_node_content",
]

EMPTY_VERSION = "empty"


@dataclass(frozen=True)
class KnowledgeKeys:
    """Redis key names, all under the project prefix and the embedding model's slug."""

    prefix: str
    slug: str

    @classmethod
    def from_settings(cls, settings: Settings) -> KnowledgeKeys:
        return cls(
            settings.key_prefix, model_slug(settings.embedding_model_name, settings.embedding_dims)
        )

    def files(self, course_id: str) -> str:
        return f"{self.prefix}:files:{self.slug}:{course_id}"

    def version(self, course_id: str) -> str:
        return f"{self.prefix}:course_version:{self.slug}:{course_id}"

    def course_meta(self, course_id: str) -> str:
        """JSON ``{"title", "language"}`` from course.yaml, written at ingest time."""
        return f"{self.prefix}:course_meta:{self.slug}:{course_id}"

    @property
    def courses(self) -> str:
        return f"{self.prefix}:courses:{self.slug}"


def chunk_schema(settings: Settings) -> IndexSchema:
    return load_chunk_schema(
        settings.key_prefix, settings.embedding_model_name, settings.embedding_dims
    )


def doc_id(course_id: str, filename: str) -> str:
    """The LlamaIndex ``ref_doc_id`` of a course file: all its chunks share it."""
    return f"{course_id}/{filename}"


def build_vector_store(
    settings: Settings,
    client: redis.Redis,
    async_client: aioredis.Redis | None = None,
) -> RedisVectorStore:
    """The chunk index as a LlamaIndex vector store. Never ``overwrite=True``: that drops data."""
    kwargs: dict[str, Any] = {
        "schema": chunk_schema(settings),
        "redis_client": client,
        "overwrite": False,
        "return_fields": RETURN_FIELDS,
    }
    if async_client is not None:
        kwargs["redis_client_async"] = async_client
    return RedisVectorStore(**kwargs)


async def course_version(
    client: aioredis.Redis, keys: KnowledgeKeys, course_id: str | frozenset[str] | None
) -> str:
    """The content version of a course, of several together, or of every course (``None``)."""
    return (await course_versions(client, keys, course_id))[0]


async def course_versions(
    client: aioredis.Redis, keys: KnowledgeKeys, course_id: str | frozenset[str] | None
) -> tuple[str, dict[str, str]]:
    """:func:`course_version`, and each course's own version it was made of (one read)."""
    if isinstance(course_id, frozenset) and len(course_id) == 1:
        course_id = next(iter(course_id))
    if isinstance(course_id, str):
        value = await client.get(keys.version(course_id))
        one = value.decode() if isinstance(value, bytes) else (value or EMPTY_VERSION)
        return one, {course_id: one}
    if course_id is None:
        members: set[Any] = await client.smembers(keys.courses)  # type: ignore[misc]
        courses = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    else:
        courses = sorted(course_id)
    if not courses:
        return EMPTY_VERSION, {}
    values = await client.mget([keys.version(c) for c in courses])
    each = [
        (c, v.decode() if isinstance(v, bytes) else v) for c, v in zip(courses, values, strict=True)
    ]
    joined = "|".join(f"{c}={v}" for c, v in each)  # a course without material joins as None
    return hashlib.sha256(joined.encode()).hexdigest()[:16], {
        c: v or EMPTY_VERSION for c, v in each
    }
