"""What the server knows about each course: its name, language and materials, read from Redis.

Ingestion writes a record per course file (content hash, page count, title, where the PDF was
read from) and the course's title and language from course.yaml, under the keys of
:class:`~app.core.knowledge.KnowledgeKeys`. The chat page's course picker, the PDF links of its
sources and the dashboard read them here; the server never opens course.yaml itself.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.knowledge import KnowledgeKeys


class StoredFile(BaseModel):
    """The read side of ingestion's ``FileRecord`` (ingest/store.py); unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    filename: str
    material_id: str
    status: str
    pages: int
    chunks: int
    ingested_at: float = 0.0
    title: str = ""
    path: str = ""


class MaterialInfo(BaseModel):
    material_id: str
    title: str
    filename: str
    pages: int = Field(description="pages in the PDF")
    chunks: int
    pdf_available: bool = Field(
        description="GET /materials/{course_id}/{material_id}.pdf serves it"
    )


class CourseInfo(BaseModel):
    course_id: str
    title: str = Field(description="from course.yaml; the course id when none was given")
    language: str | None = Field(description="from course.yaml (e.g. `id`, `en`), if given")
    materials: list[MaterialInfo]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CourseCatalog:
    def __init__(self, client: aioredis.Redis, keys: KnowledgeKeys, timeout: float) -> None:
        self._client = client
        self._keys = keys
        self._timeout = timeout

    async def course_ids(self) -> list[str]:
        async with asyncio.timeout(self._timeout):
            members: set[Any] = await self._client.smembers(self._keys.courses)  # type: ignore[misc]
        return sorted(_text(m) for m in members)

    async def _files(self, course_id: str) -> list[StoredFile]:
        async with asyncio.timeout(self._timeout):
            raw: dict[Any, Any] = await self._client.hgetall(self._keys.files(course_id))  # type: ignore[misc]
        files = []
        for value in raw.values():
            try:
                stored = StoredFile.model_validate_json(value)
            except ValidationError:
                continue  # a record from a far older ingest: the course re-ingests it next time
            if stored.status == "ok" and stored.chunks > 0:
                files.append(stored)
        return sorted(files, key=lambda f: (f.title or f.filename).lower())

    async def course(self, course_id: str) -> CourseInfo | None:
        """The course, or ``None`` when nothing of it is ingested."""
        files = await self._files(course_id)
        if not files:
            return None
        async with asyncio.timeout(self._timeout):
            raw = await self._client.get(self._keys.course_meta(course_id))
        meta: dict[str, Any] = {}
        if raw:
            try:
                meta = json.loads(raw)
            except json.JSONDecodeError:
                meta = {}
        return CourseInfo(
            course_id=course_id,
            title=str(meta.get("title") or course_id),
            language=str(meta.get("language") or "") or None,
            materials=[
                MaterialInfo(
                    material_id=f.material_id,
                    title=f.title or Path(f.filename).stem,
                    filename=f.filename,
                    pages=f.pages,
                    chunks=f.chunks,
                    pdf_available=bool(f.path),
                )
                for f in files
            ],
        )

    async def courses(self, course_ids: list[str]) -> list[CourseInfo]:
        found = await asyncio.gather(*(self.course(c) for c in course_ids))
        return [c for c in found if c is not None]

    async def pdf_path(self, course_id: str, material_id: str) -> Path | None:
        """Where ingestion read this material's PDF, if it still exists there."""
        for stored in await self._files(course_id):
            if stored.material_id == material_id and stored.path:
                path = Path(stored.path)
                exists = await asyncio.to_thread(path.is_file)
                return path if exists else None
        return None
