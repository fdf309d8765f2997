"""Synthetic course chunks for index-size benchmarks, derived from really ingested chunks.

Embedding 50k chunks with the local model would take hours, so each synthetic chunk copies a real
chunk's hash (every field the pipeline writes) with a new identity — course, material, file, page,
position — the real text, and the real vector plus a little Gaussian noise, renormalised, float32.
Chunks are spread evenly over ~20 courses; the real courses are topped up to the same share.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import redis

from bench.common import redis_command

COURSES = 20
CHUNKS_PER_MATERIAL = 120  # 60 pages of 2 chunks
NOISE_SIGMA = (0.015, 0.04)  # per dimension; cosine to the source chunk ≈ 0.95 … 0.76
BATCH = 1000


@dataclass(frozen=True)
class RealChunk:
    fields: dict[bytes, bytes]
    course_id: str
    vector: npt.NDArray[np.float32]


def read_chunks(client: redis.Redis, key_prefix: str) -> list[RealChunk]:
    """Every chunk hash under ``key_prefix`` (the index's key prefix)."""
    keys = sorted(client.scan_iter(match=f"{key_prefix}:*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    chunks = []
    for fields in pipe.execute():
        vector = np.frombuffer(fields[b"vector"], dtype=np.float32)
        chunks.append(RealChunk(fields, fields[b"course_id"].decode(), vector))
    return chunks


class SyntheticWriter:
    """Grows an index to a total chunk count, ``total / COURSES`` chunks per course."""

    def __init__(
        self, client: redis.Redis, key_prefix: str, real: list[RealChunk], seed: int = 7
    ) -> None:
        self._client = client
        self._key_prefix = key_prefix
        self._real = real
        self._rng = np.random.default_rng(seed)
        real_courses = sorted({c.course_id for c in real})
        synthetic = [f"bench_course_{i:02d}" for i in range(COURSES - len(real_courses))]
        self.courses = real_courses + synthetic
        self._real_count = {c: sum(1 for r in real if r.course_id == c) for c in real_courses}
        self._written = dict.fromkeys(self.courses, 0)

    def total(self) -> int:
        return sum(self._real_count.values()) + sum(self._written.values())

    def share(self, course_id: str) -> int:
        return self._real_count.get(course_id, 0) + self._written[course_id]

    def grow_to(self, total: int) -> int:
        """Write synthetic chunks until the index holds ``total``; return how many were written."""
        per_course = total // COURSES
        written = 0
        for course in self.courses:
            missing = per_course - self.share(course)
            if missing > 0:
                self._write(course, missing)
                written += missing
        return written

    def _write(self, course: str, count: int) -> None:
        own = [r for r in self._real if r.course_id == course] or self._real
        pipe = self._client.pipeline(transaction=False)
        start = self._written[course]
        for i in range(start, start + count):
            source = own[int(self._rng.integers(len(own)))]
            key, fields = self._chunk(course, i, source)
            pipe.hset(key, mapping=fields)
            if len(pipe) >= BATCH:
                pipe.execute()
        pipe.execute()
        self._written[course] = start + count

    def _chunk(self, course: str, i: int, source: RealChunk) -> tuple[str, dict[bytes, bytes]]:
        material = i // CHUNKS_PER_MATERIAL
        material_id = f"syn_m{material:02d}"
        filename = f"syn_modul_{material:02d}.pdf"
        page = (i % CHUNKS_PER_MATERIAL) // 2 + 1
        position = i % 2 + 1
        node_id = f"{course}:{material_id}:{page}:{position}"
        doc = f"{course}/{filename}"
        chunk_type = source.fields.get(b"chunk_type", b"text").decode()
        title = f"Modul sintetis {material} ({course})"
        metadata = {
            "course_id": course,
            "material_id": material_id,
            "filename": filename,
            "title": title,
            "page": page,
            "page_label": str(page),
            "position": position,
            "chunk_type": chunk_type,
        }
        content = json.loads(source.fields[b"_node_content"])
        content["id_"] = node_id
        content["metadata"] = metadata
        content["relationships"]["1"]["node_id"] = doc
        sigma = float(self._rng.uniform(*NOISE_SIGMA))
        noisy = source.vector + self._rng.normal(0.0, sigma, source.vector.shape)
        vector = (noisy / np.linalg.norm(noisy)).astype(np.float32)
        fields = dict(source.fields)
        fields.update(
            {
                b"id": node_id.encode(),
                b"doc_id": doc.encode(),
                b"document_id": doc.encode(),
                b"ref_doc_id": doc.encode(),
                b"vector": vector.tobytes(),
                b"_node_content": json.dumps(content).encode(),
                **{k.encode(): str(v).encode() for k, v in metadata.items()},
            }
        )
        return f"{self._key_prefix}:{node_id}", fields


def index_info(client: redis.Redis, index: str) -> dict[str, str]:
    raw = redis_command(client, "FT.INFO", index)
    info = {}
    for name, value in zip(raw[::2], raw[1::2], strict=True):
        key = name.decode() if isinstance(name, bytes) else str(name)
        info[key] = value.decode() if isinstance(value, bytes) else str(value)
    return info


def wait_indexed(client: redis.Redis, index: str, docs: int, timeout: float = 900.0) -> float:
    """Block until the index holds ``docs`` documents, fully indexed; return the seconds waited."""
    started = time.perf_counter()
    while True:
        info = index_info(client, index)
        done = float(info.get("percent_indexed", "1")) >= 1.0 and info.get("indexing") == "0"
        if done and int(info["num_docs"]) >= docs:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"index {index} not ready: {info.get('num_docs')} docs")
        time.sleep(0.5)
