"""Does a student's question match one of the course's curated answers?

The turn path asks before the semantic cache and the LLM, with the question vector it already
has. A course's curated questions are few (tens, a few hundred), so each worker keeps them as one
normalized matrix per course and answers with a single matrix-vector product; it reloads when the
course's curated version or content version in Redis moved (another worker saved an answer, or
ingestion changed the material, which may flag answers for review). Only the course's own active
answers are candidates: never another course's, never one waiting for review.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.db.curated_store import CuratedRecord
from app.services.versions import VersionReader
from app.teaching.curated import CuratedAnswers

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"\d+")


def numbers_in(text: str) -> frozenset[str]:
    return frozenset(_NUMBER.findall(text))


def numbers_agree(question: str, curated: str) -> bool:
    """The same numbers in both ("tugas 1" never matches "tugas 2"), which the embedding model
    barely tells apart (docs/benchmarks.md, "Curated answers")."""
    return numbers_in(question) == numbers_in(curated)


@dataclass(frozen=True)
class CuratedMatch:
    record: CuratedRecord
    distance: float  # cosine distance between the student's and the curated question


@dataclass
class _Loaded:
    stamp: tuple[str, str]
    records: list[CuratedRecord]
    matrix: npt.NDArray[np.float32]
    numbers: list[frozenset[str]]  # of each record's question, for the number guard


def _unit(vector: list[float]) -> npt.NDArray[np.float32]:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm else array


class CuratedMatcher:
    def __init__(self, answers: CuratedAnswers, versions: VersionReader, threshold: float) -> None:
        self._answers = answers
        self._versions = versions
        self._threshold = threshold
        self._loaded: dict[str, _Loaded] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def threshold(self) -> float:
        return self._threshold

    async def match(
        self, question_vector: list[float], course_id: str | None, question: str | None = None
    ) -> CuratedMatch | None:
        """The closest active curated answer of ``course_id`` within the threshold, or None.

        With the question's text, only curated questions with the same numbers are candidates.
        """
        if course_id is None:
            return None
        loaded = await self._load(course_id)
        if not loaded.records:
            return None
        distances = 1.0 - loaded.matrix @ _unit(question_vector)
        if question is not None:
            asked = numbers_in(question)
            for i, numbers in enumerate(loaded.numbers):
                if numbers != asked:
                    distances[i] = np.inf
        best = int(np.argmin(distances))
        distance = float(distances[best])
        if distance > self._threshold:
            return None
        return CuratedMatch(loaded.records[best], round(max(distance, 0.0), 4))

    async def match_any(
        self,
        question_vector: list[float],
        course_ids: frozenset[str] | None,
        question: str | None = None,
    ) -> CuratedMatch | None:
        """The closest match among the curated answers of each of ``course_ids`` (only theirs);
        ``None`` (every course) matches nothing, as a question without a course never did."""
        if course_ids is None:
            return None
        best: CuratedMatch | None = None
        for course_id in sorted(course_ids):
            found = await self.match(question_vector, course_id, question)
            if found is not None and (best is None or found.distance < best.distance):
                best = found
        return best

    async def _load(self, course_id: str) -> _Loaded:
        stamp = (
            await self._answers.version(course_id),
            await self._versions.get(course_id),
        )
        loaded = self._loaded.get(course_id)
        if loaded is not None and loaded.stamp == stamp:
            return loaded
        async with self._locks.setdefault(course_id, asyncio.Lock()):
            loaded = self._loaded.get(course_id)
            if loaded is not None and loaded.stamp == stamp:
                return loaded
            if loaded is not None and loaded.stamp[1] != stamp[1]:
                await self._answers.refresh_flags(course_id)  # the material changed
                stamp = (await self._answers.version(course_id), stamp[1])
            elif loaded is None:
                await self._answers.refresh_flags(course_id)
                stamp = (await self._answers.version(course_id), stamp[1])
            records = await self._answers.store.for_course(course_id, "active")
            vectors = [await self._vector(r) for r in records]
            matrix = (
                np.vstack([_unit(v) for v in vectors])
                if vectors
                else np.zeros((0, 1), dtype=np.float32)
            )
            loaded = _Loaded(stamp, records, matrix, [numbers_in(r.question) for r in records])
            self._loaded[course_id] = loaded
            log.debug("curated answers of %s loaded: %d", course_id, len(records))
            return loaded

    async def _vector(self, record: CuratedRecord) -> list[float]:
        """The stored vector, or a fresh one when it was made by another embedding model."""
        if record.vector is not None and record.vector_model == self._answers.model_name:
            return record.vector
        vector = await self._answers.embed(record.question)
        await self._answers.store.set_vector(record.id, vector, self._answers.model_name)
        return vector
