"""Ingestion's bookkeeping in Redis: what each course file was when it was last ingested.

A file record holds the file's content hash and the pipeline version, so unchanged files are
skipped; the course content version is a hash over its files' hashes, so it changes exactly when
the material changes (the semantic cache keys on it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import redis
from llama_index.core.schema import BaseNode, TextNode
from llama_index.vector_stores.redis import RedisVectorStore
from redisvl.index import SearchIndex
from redisvl.query import CountQuery, FilterQuery
from redisvl.query.filter import FilterExpression, Tag

from app.core.knowledge import EMPTY_VERSION, KnowledgeKeys, doc_id
from app.core.schema import ChunkField
from app.teaching.course_settings import declared_key, save_declared_modes
from app.teaching.modes import AnswerMode

PAGE_SIZE = 1000


@dataclass(frozen=True)
class FileRecord:
    filename: str
    material_id: str
    sha256: str
    pipeline: str
    status: str
    pages: int
    chunks: int
    ingested_at: float
    ocr: str = ""  # the OCR set-up its scanned pages were read with; "pending" when none could run
    # read by the server's course catalog (app/services/catalog.py): the picker and PDF links
    title: str = ""
    path: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> FileRecord:
        return cls(**json.loads(raw))


class KnowledgeWriter:
    """Writes chunks and file records of one embedding model's index."""

    def __init__(
        self, client: redis.Redis, store: RedisVectorStore, index: SearchIndex, keys: KnowledgeKeys
    ) -> None:
        self._client = client
        self._store = store
        self._index = index
        self._names = keys

    def records(self, course_id: str) -> dict[str, FileRecord]:
        raw: dict[bytes, bytes] = self._client.hgetall(self._names.files(course_id))  # type: ignore[assignment]
        return {
            (k.decode() if isinstance(k, bytes) else k): FileRecord.from_json(v)
            for k, v in raw.items()
        }

    def _keys(self, selector: FilterExpression) -> set[str]:
        """Redis keys of the chunks matching ``selector`` (paged: FT.SEARCH caps result sets)."""
        total = int(self._index.query(CountQuery(selector)))
        keys: set[str] = set()
        for offset in range(0, total, PAGE_SIZE):
            fields = [ChunkField.PAGE.value]
            query = FilterQuery(selector, return_fields=fields, num_results=PAGE_SIZE)
            query.paging(offset, PAGE_SIZE)
            keys.update(str(doc["id"]) for doc in self._index.query(query))  # "id" is the doc key
        return keys

    def course_chunk_keys(self, course_id: str) -> set[str]:
        return self._keys(Tag(ChunkField.COURSE_ID.value) == course_id)

    def file_chunk_keys(self, course_id: str, filename: str) -> set[str]:
        return self._keys(Tag(ChunkField.DOC_ID.value) == doc_id(course_id, filename))

    def replace_file(self, course_id: str, filename: str, nodes: list[TextNode]) -> None:
        """Write the new chunks, then delete the file's chunks that no longer exist.

        Chunk ids are deterministic, so readers never see the file missing in between.
        """
        old = self.file_chunk_keys(course_id, filename)
        if nodes:
            self._store.add(list[BaseNode](nodes))
        self._delete(old - {self._index.key(node.node_id) for node in nodes})

    def delete_file(self, course_id: str, filename: str) -> int:
        keys = self.file_chunk_keys(course_id, filename)
        self._delete(keys)
        self._client.hdel(self._names.files(course_id), filename)
        return len(keys)

    def _delete(self, keys: set[str]) -> None:
        ordered = sorted(keys)
        for start in range(0, len(ordered), PAGE_SIZE):
            self._client.delete(*ordered[start : start + PAGE_SIZE])

    def save_record(self, course_id: str, record: FileRecord) -> None:
        self._client.hset(self._names.files(course_id), record.filename, record.to_json())

    def save_course(self, course_id: str, title: str, language: str) -> None:
        """The course's own name and language, for the server's course picker."""
        meta = {"title": title, "language": language}
        self._client.set(self._names.course_meta(course_id), json.dumps(meta, sort_keys=True))

    def save_answer_modes(
        self, course_id: str, course_mode: AnswerMode | None, materials: dict[str, AnswerMode]
    ) -> None:
        """course.yaml's answer modes, for the server (a lecturer's run-time switch overrides)."""
        save_declared_modes(self._client, self._names.prefix, course_id, course_mode, materials)

    def update_version(self, course_id: str) -> str:
        """Recompute the course content version from its ingested files; return it."""
        records = self.records(course_id)
        usable = sorted(
            (r.filename, r.sha256, r.pipeline) for r in records.values() if r.chunks > 0
        )
        if not usable:
            self._client.delete(self._names.version(course_id))
            self._client.srem(self._names.courses, course_id)
            return EMPTY_VERSION
        digest = hashlib.sha256(json.dumps(usable).encode()).hexdigest()[:16]
        pipe = self._client.pipeline()
        pipe.set(self._names.version(course_id), digest)
        pipe.sadd(self._names.courses, course_id)
        pipe.execute()
        return digest

    def drop_course(self, course_id: str) -> int:
        """Remove every chunk, record and the version of a course; return the chunks removed."""
        keys = self.course_chunk_keys(course_id)
        self._delete(keys)
        self._client.delete(
            self._names.files(course_id),
            self._names.version(course_id),
            self._names.course_meta(course_id),
        )
        self._client.delete(declared_key(self._names.prefix, course_id))
        self._client.srem(self._names.courses, course_id)
        return len(keys)

    def chunk_count(self, course_id: str | None = None) -> int:
        selector = (
            Tag(ChunkField.COURSE_ID.value) == course_id if course_id else FilterExpression("*")
        )
        return int(self._index.query(CountQuery(selector)))
