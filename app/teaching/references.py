"""Curated answers point at pages of the course material; this checks and describes those pages.

A reference is resolved when the lecturer saves the answer — the material must be in the course
and the page must have text — and stored with what a source needs (file name, title, page label,
an excerpt), so serving a curated answer reads nothing but the answer. The content hash of each
referenced file is kept too: ingestion records a new hash when a file changes, and an answer whose
material changed (or disappeared) is flagged for the lecturer to review.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, Field
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery
from redisvl.query.filter import Num, Tag

from app.core.knowledge import KnowledgeKeys
from app.core.schema import ChunkField

EXCERPT_CHARS = 600
IDENTIFIER = r"^[A-Za-z0-9_.@:\-]{1,128}$"


class ReferenceIn(BaseModel):
    material_id: str = Field(pattern=IDENTIFIER)
    page: int | None = Field(default=None, ge=1, le=100_000, description="physical page, 1-based")
    page_label: str | None = Field(
        default=None, min_length=1, max_length=32, description="the PDF's own label, e.g. `iv`"
    )


class Reference(BaseModel):
    material_id: str
    filename: str
    title: str
    page: int | None = None
    page_label: str | None = None
    position: int = 1
    excerpt: str = ""


class ReferenceError(ValueError):
    """A reference that does not point at this course's material."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class MaterialPages:
    """Reads file records (hashes) and page text of one embedding model's chunk index."""

    def __init__(
        self, client: aioredis.Redis, index: AsyncSearchIndex, keys: KnowledgeKeys, timeout: float
    ) -> None:
        self._client = client
        self._index = index
        self._keys = keys
        self._timeout = timeout

    async def files(self, course_id: str) -> dict[str, dict[str, Any]]:
        """material id → its file record (filename, sha256, ...), as ingestion wrote it."""
        async with asyncio.timeout(self._timeout):
            raw: dict[Any, Any] = await self._client.hgetall(self._keys.files(course_id))  # type: ignore[misc]
        out: dict[str, dict[str, Any]] = {}
        for value in raw.values():
            try:
                record = json.loads(value)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("material_id") and record.get("chunks"):
                out[str(record["material_id"])] = record
        return out

    async def resolve(self, course_id: str, wanted: list[ReferenceIn]) -> list[Reference]:
        files = await self.files(course_id)
        resolved = []
        for ref in wanted:
            record = files.get(ref.material_id)
            if record is None:
                raise ReferenceError(
                    f"Material {ref.material_id!r} is not part of course {course_id!r}."
                )
            filename = str(record.get("filename", ""))
            title = str(record.get("title") or filename)
            if ref.page is None and ref.page_label is None:
                resolved.append(
                    Reference(material_id=ref.material_id, filename=filename, title=title)
                )
                continue
            chunk = await self._first_chunk(course_id, ref)
            if chunk is None:
                where = f"page {ref.page}" if ref.page is not None else f"page {ref.page_label!r}"
                raise ReferenceError(f"Material {ref.material_id!r} has no text on {where}.")
            resolved.append(
                Reference(
                    material_id=ref.material_id,
                    filename=filename,
                    title=title,
                    page=int(float(_text(chunk.get(ChunkField.PAGE.value, "0")))),
                    page_label=_text(chunk.get(ChunkField.PAGE_LABEL.value, "")),
                    position=int(float(_text(chunk.get(ChunkField.POSITION.value, "1")))),
                    excerpt=_text(chunk.get(ChunkField.TEXT.value, ""))[:EXCERPT_CHARS],
                )
            )
        return resolved

    async def _first_chunk(self, course_id: str, ref: ReferenceIn) -> dict[str, Any] | None:
        where = (Tag(ChunkField.COURSE_ID.value) == course_id) & (
            Tag(ChunkField.MATERIAL_ID.value) == ref.material_id
        )
        if ref.page is not None:
            where = where & (Num(ChunkField.PAGE.value) == ref.page)
        else:
            where = where & (Tag(ChunkField.PAGE_LABEL.value) == str(ref.page_label))
        fields = [
            ChunkField.TEXT.value,
            ChunkField.PAGE.value,
            ChunkField.PAGE_LABEL.value,
            ChunkField.POSITION.value,
        ]
        query = FilterQuery(where, return_fields=fields, num_results=50)
        async with asyncio.timeout(self._timeout):
            docs = await self._index.query(query)
        rows: list[dict[str, Any]] = [dict(d) for d in docs]
        if not rows:
            return None
        return min(rows, key=lambda d: float(_text(d.get(ChunkField.POSITION.value, "1"))))

    async def hashes(self, course_id: str, material_ids: list[str]) -> dict[str, str]:
        files = await self.files(course_id)
        return {m: str(files[m].get("sha256", "")) for m in material_ids if m in files}


def changed_materials(
    snapshot: Mapping[str, str], current: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """(material id, what happened) for each referenced material that changed or disappeared."""
    changes = []
    for material_id, sha in sorted(snapshot.items()):
        record = current.get(material_id)
        if record is None:
            changes.append((material_id, "removed"))
        elif str(record.get("sha256", "")) != sha:
            changes.append((material_id, "changed"))
    return changes
