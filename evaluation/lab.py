"""The retrieval lab's core: questions, course chunks and question vectors, and rankers over them.

In memory, on the chunks of an eval index (``make eval`` fills it; ``--prefix``): exact cosine
search with the stored vectors stands in for the HNSW query (same ranking on courses this size),
and the lexical leg is the server's own ``CourseLexicalIndex``. A ranker maps a question to chunk
indices of its course, best first. Question vectors are cached under ``evaluation/out/lab``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.core.config import Settings, get_settings
from app.core.embeddings import build_embedding
from app.rag.analysis import Analyzer, Stemming
from app.rag.bm25 import BM25
from app.rag.fusion import rrf
from app.rag.lexical_index import CourseLexicalIndex
from app.services.lexical import normalize_question, query_terms
from evaluation.lab_data import CourseChunks, LabQuestion, Matrix, load_courses, read_questions
from evaluation.lab_metrics import Score, by_kind

OUT = Path(__file__).resolve().parent / "out" / "lab"
POOL = 20
STEM = Stemming.SASTRAWI  # the settings' defaults (RAG_LEXICAL_STEMMING, RAG_LEXICAL_WEIGHT)
LEXICAL_WEIGHT = 1.25
Ranker = Callable[[LabQuestion], list[int]]


class Lab:
    """Questions, course chunks and question vectors, plus the recipes built on them."""

    def __init__(
        self, questions: list[LabQuestion], courses: dict[str, CourseChunks], qvec: Matrix
    ) -> None:
        self.questions = questions
        self.courses = courses
        self.qvec = {q.question.id: qvec[i] for i, q in enumerate(questions)}
        self._lexical: dict[tuple[str, str, float, float], CourseLexicalIndex] = {}

    def right(self, q: LabQuestion, doc: int) -> bool:
        return self.courses[q.question.course_id].is_right(q.question, doc)

    def dense(self, q: LabQuestion, vector: Matrix | None = None) -> list[int]:
        chunks = self.courses[q.question.course_id]
        sims = chunks.vectors @ (self.qvec[q.question.id] if vector is None else vector)
        return [int(i) for i in np.argsort(-sims, kind="stable")[:50]]

    def lexical_index(
        self, course_id: str, stemming: Stemming, k1: float = 1.2, b: float = 0.75
    ) -> CourseLexicalIndex:
        key = (course_id, stemming.value, k1, b)
        if key not in self._lexical:
            docs = self.courses[course_id].docs
            self._lexical[key] = CourseLexicalIndex.build(
                course_id, "lab", docs, Analyzer(stemming), k1, b
            )
        return self._lexical[key]

    def bm25(
        self,
        q: LabQuestion,
        stemming: Stemming,
        text: str | None = None,
        language: str | None = None,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> list[int]:
        index = self.lexical_index(q.question.course_id, stemming, k1, b)
        terms = index.query_terms(text or q.question.question, language)
        return [i for i, _ in index.bm25.top(terms, 50)]

    def run(self, ranker: Ranker) -> dict[str, Score]:
        return by_kind(self.questions, [ranker(q) for q in self.questions], self.right)


def global_idf_ranker(lab: Lab) -> Ranker:
    """BM25 with document frequencies over ALL courses (what RediSearch does), course-filtered."""
    analyzer = Analyzer(Stemming.NONE)
    owners: list[tuple[str, int]] = []
    docs: list[list[str]] = []
    for course_id, chunks in lab.courses.items():
        for i, d in enumerate(chunks.docs):
            owners.append((course_id, i))
            docs.append(analyzer.terms(d.text, "id"))
    everything = BM25(docs)

    def rank(q: LabQuestion) -> list[int]:
        scores = everything.scores(query_terms(q.question.question))
        order = np.argsort(-scores, kind="stable")
        return [
            owners[i][1] for i in order if owners[i][0] == q.question.course_id and scores[i] > 0
        ][:50]

    return rank


def fused(*rankers: Ranker, weights: Sequence[float] | None = None, pool: int = POOL,
          k: int = 60) -> Ranker:  # fmt: skip
    def rank(q: LabQuestion) -> list[int]:
        lists = [r(q)[:pool] for r in rankers]
        return [doc for doc, _ in rrf(lists, weights, k)]

    return rank


def embed_questions(settings: Settings, texts: list[str]) -> Matrix:
    """Question vectors as the server makes them (normalized text, "query: " prefix), cached."""
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = OUT / f"qvec-{settings.embedding_model_name}-{digest}.npy"
    if path.exists():
        return np.load(path)  # type: ignore[no-any-return]
    model = build_embedding(settings)
    rows = [model.get_query_embedding(normalize_question(t)) for t in texts]
    matrix = np.asarray(rows, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, matrix)
    return matrix


def build_lab(prefix: str, files: list[Path], split: str | None) -> Lab:
    settings = get_settings(key_prefix=prefix)
    questions = read_questions(files, split)
    course_ids = sorted({q.question.course_id for q in questions})
    courses = asyncio.run(load_courses(settings, course_ids))
    qvec = embed_questions(settings, [q.question.question for q in questions])
    return Lab(questions, courses, qvec)
