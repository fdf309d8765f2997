"""What the retrieval lab works on: the eval index's chunks (with vectors) and labelled questions.

The chunks are read back from the eval index that ``make eval`` fills (``--prefix``), through the
lexical leg's own loader, so the lab sees exactly what the server would; vectors come from the
same hashes. Questions come from any JSONL set; a row's ``split`` (``dev`` / ``heldout``) is
honoured: tuning code asks for ``dev`` only and never touches held-out text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis

from app.core.config import Settings
from app.core.knowledge import chunk_schema
from app.core.schema import ChunkField
from app.rag.lexical_index import ChunkDoc, load_course_chunks
from app.rag.scope import NOT_ANSWERS
from evaluation.dataset import DATA_DIR, Question

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LabQuestion:
    question: Question
    split: str  # "dev", "heldout", or "all" for sets without splits

    @property
    def kind(self) -> str:
        return self.question.kind


@dataclass
class CourseChunks:
    course_id: str
    docs: list[ChunkDoc]
    vectors: Matrix  # one L2-normalised row per doc

    def is_right(self, q: Question, i: int) -> bool:
        meta = self.docs[i].metadata
        return q.is_right(str(meta["filename"]), int(meta["page"]))


def read_questions(paths: Sequence[Path], split: str | None = "dev") -> list[LabQuestion]:
    """Questions of the JSONL ``paths``; with ``split``, only rows of that split (rows without a
    split count as ``dev``: the older sets were never held out)."""
    out: list[LabQuestion] = []
    for path in paths:
        set_name = "sample" if "sample" in path.name else "corpus"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row: dict[str, Any] = json.loads(line)
            row_split = str(row.get("split") or "dev")
            if split is not None and row_split != split:
                continue
            q = Question(
                id=str(row["id"]),
                set_name=set_name,  # type: ignore[arg-type]
                question=str(row["question"]),
                course_id=str(row["course_id"]),
                file=row.get("file"),
                page=row.get("page"),
                alt_pages=tuple(int(p) for p in row.get("alt_pages") or ()),
                language=str(row.get("language") or "id"),
                kind=str(row["kind"]),
            )
            out.append(LabQuestion(q, row_split))
    return out


def default_question_files() -> list[Path]:
    return [DATA_DIR / "corpus_eval.jsonl", DATA_DIR / "sample_eval.jsonl"]


async def load_course(client: aioredis.Redis, settings: Settings, course_id: str) -> CourseChunks:
    schema = chunk_schema(settings)
    key_prefix = schema.index.prefix + schema.index.key_separator
    docs = await load_course_chunks(
        client, schema.index.name, key_prefix, course_id, frozenset(NOT_ANSWERS), 30.0
    )
    async with client.pipeline(transaction=False) as pipe:
        for doc in docs:
            pipe.hget(key_prefix + doc.node_id, ChunkField.VECTOR.value)
        blobs = await pipe.execute()
    rows = np.vstack([np.frombuffer(b, dtype=np.float32) for b in blobs])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return CourseChunks(course_id, docs, rows.astype(np.float32))


async def load_courses(settings: Settings, course_ids: Sequence[str]) -> dict[str, CourseChunks]:
    client = aioredis.Redis.from_url(settings.redis_knowledge_url)
    try:
        loaded = await asyncio.gather(*(load_course(client, settings, c) for c in course_ids))
        return {c.course_id: c for c in loaded}
    finally:
        await client.aclose()
