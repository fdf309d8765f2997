"""``python -m evaluation.retrieval_lab``: which retrieval recipe finds the right page, by kind.

In memory, on the chunks of an eval index (``make eval`` fills it; ``--prefix``): exact cosine
search with the stored vectors stands in for the HNSW query (same ranking on courses this size),
and the lexical leg is the server's own ``CourseLexicalIndex``. Every recipe is scored on the
same questions (dev split by default) with hit@1 / hit@5 / MRR per question kind. Question
vectors and translations are cached under ``evaluation/out/lab``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
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
from evaluation.lab_data import (
    CourseChunks,
    LabQuestion,
    Matrix,
    default_question_files,
    load_courses,
    read_questions,
)
from evaluation.lab_metrics import Score, by_kind, table

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


def lexical_recipes(lab: Lab) -> dict[str, Ranker]:
    def dense(q: LabQuestion) -> list[int]:
        return lab.dense(q)

    def stemmed(s: Stemming) -> Ranker:
        return lambda q: lab.bm25(q, s)

    plain, snow, sas = (stemmed(s) for s in Stemming)
    return {
        "dense": dense,
        "BM25, index-wide IDF, no stemming": global_idf_ranker(lab),
        "BM25 per course, no stemming": plain,
        "BM25 per course, Snowball": snow,
        "BM25 per course, Sastrawi (id) + Snowball (en)": sas,
        "RRF dense + BM25 per course (none), pool 20": fused(dense, plain),
        "RRF dense + BM25 per course (Snowball), pool 20": fused(dense, snow),
        "RRF dense + BM25 per course (Sastrawi), pool 20": fused(dense, sas),
        "RRF dense + BM25 index-wide IDF, pool 20": fused(dense, global_idf_ranker(lab)),
    }


def fusion_recipes(lab: Lab, stemming: Stemming) -> dict[str, Ranker]:
    def dense(q: LabQuestion) -> list[int]:
        return lab.dense(q)

    def lex(q: LabQuestion) -> list[int]:
        return lab.bm25(q, stemming)

    out: dict[str, Ranker] = {}
    for pool in (10, 20, 50):
        for w in (0.5, 0.75, 1.0, 1.5):
            for k in (10, 30, 60):
                out[f"pool {pool}, lexical weight {w}, k {k}"] = fused(
                    dense, lex, weights=(1.0, w), pool=pool, k=k
                )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--prefix", default="evalres")
    p.add_argument("--questions", type=Path, action="append", help="JSONL (default: both sets)")
    p.add_argument("--split", default="dev", help="dev | heldout | all (default dev)")
    p.add_argument(
        "--study",
        choices=["lexical", "fusion", "redis", "crosslingual", "translate"],
        default="lexical",
    )
    p.add_argument("--stemming", type=Stemming, default=Stemming.SASTRAWI)
    args = p.parse_args(argv)
    split = None if args.split == "all" else args.split
    lab = build_lab(args.prefix, args.questions or default_question_files(), split)
    if args.study == "translate":  # fill the translation caches only (slow with a local LLM)
        for method in ("glossary", "llm"):
            print(method, len(translations(lab, method)), "questions translated")
        return
    recipes = {
        "lexical": lambda: lexical_recipes(lab),
        "fusion": lambda: fusion_recipes(lab, args.stemming),
        "redis": lambda: redis_recipes(lab, args.prefix),
        "crosslingual": lambda: crosslingual_recipes(lab, get_settings(key_prefix=args.prefix)),
    }[args.study]()
    rows = {name: lab.run(r) for name, r in recipes.items()}
    print(table(rows))
    OUT.mkdir(parents=True, exist_ok=True)
    dump = {n: {k: s.__dict__ for k, s in r.items()} for n, r in rows.items()}
    (OUT / f"{args.study}.json").write_text(json.dumps(dump, indent=1), encoding="utf-8")


def redis_lexical_ranker(
    lab: Lab,
    prefix: str,
    index_name: str | None = None,
    scorer: str = "BM25",
    verbatim: bool = True,
    language: str | None = None,
) -> Ranker:
    """The shipped RediSearch lexical leg (same query text), or a variant of it."""
    import redis
    from redis.commands.search.query import Query

    from app.core.knowledge import chunk_schema
    from app.services.lexical import redis_text_query

    schema = chunk_schema(get_settings(key_prefix=prefix))
    name = index_name or schema.index.name
    key_prefix = schema.index.prefix + schema.index.key_separator
    client = redis.Redis.from_url(get_settings().redis_knowledge_url)
    positions = {
        cid: {d.node_id: i for i, d in enumerate(c.docs)} for cid, c in lab.courses.items()
    }

    def rank(q: LabQuestion) -> list[int]:
        terms = query_terms(q.question.question)
        if not terms:
            return []
        query = Query(redis_text_query(terms, q.question.course_id)).scorer(scorer)
        query = query.verbatim() if verbatim else query
        if language:
            query = query.language(language)
        result = client.ft(  # type: ignore[no-untyped-call]
            name
        ).search(query.paging(0, 50).no_content().dialect(2))
        where = positions[q.question.course_id]
        ids = (str(d.id)[len(key_prefix) :] for d in result.docs)
        return [where[i] for i in ids if i in where]

    return rank


def ensure_variant_index(prefix: str, name: str, text_args: list[str], language: str | None) -> str:
    """A second RediSearch index over the same hashes, with another text-field definition."""
    import redis

    from app.core.knowledge import chunk_schema

    schema = chunk_schema(get_settings(key_prefix=prefix))
    client = redis.Redis.from_url(get_settings().redis_knowledge_url)
    full = f"{schema.index.name}-{name}"
    try:
        client.ft(  # type: ignore[no-untyped-call]
            full
        ).info()
        return full
    except redis.ResponseError:
        pass
    args = ["FT.CREATE", full, "ON", "HASH", "PREFIX", "1", schema.index.prefix]
    if language:
        args += ["LANGUAGE", language]
    args += ["SCHEMA", "text", "TEXT", *text_args, "course_id", "TAG", "CASESENSITIVE"]
    args += ["chunk_type", "TAG"]
    client.execute_command(*args)  # type: ignore[no-untyped-call]
    import time

    while int(
        client.ft(  # type: ignore[no-untyped-call]
            full
        )
        .info()
        .get("indexing", 0)
    ):
        time.sleep(0.2)
    return full


def redis_recipes(lab: Lab, prefix: str) -> dict[str, Ranker]:
    def dense(q: LabQuestion) -> list[int]:
        return lab.dense(q)

    nostem = ensure_variant_index(prefix, "nostem", ["NOSTEM"], None)
    indo = ensure_variant_index(prefix, "lang-id", [], "indonesian")
    shipped = redis_lexical_ranker(lab, prefix)
    variants: dict[str, Ranker] = {
        "RediSearch as shipped (BM25, verbatim, English stemmer)": shipped,
        "RediSearch BM25STD scorer": redis_lexical_ranker(lab, prefix, scorer="BM25STD"),
        "RediSearch not verbatim (English stem expansion)": redis_lexical_ranker(
            lab, prefix, verbatim=False
        ),
        "RediSearch NOSTEM field": redis_lexical_ranker(lab, prefix, nostem),
        "RediSearch NOSTEM + BM25STD": redis_lexical_ranker(lab, prefix, nostem, "BM25STD"),
        "RediSearch LANGUAGE indonesian, stem expansion": redis_lexical_ranker(
            lab, prefix, indo, verbatim=False
        ),
        "in-process BM25 per course (no stemming)": lambda q: lab.bm25(q, Stemming.NONE),
    }
    out: dict[str, Ranker] = {"dense": dense}
    for name, ranker in variants.items():
        out[name] = ranker
        out[f"RRF dense + {name}"] = fused(dense, ranker)
    return out


def needs_translation(lab: Lab, q: LabQuestion) -> list[str]:
    """Target languages for ``q``: what the server's cross-lingual retriever would pick."""
    from app.rag.crosslingual import question_language, targets

    index = lab.lexical_index(q.question.course_id, Stemming.NONE)
    shares = {lang: index.language_share(lang) for lang in ("id", "en")}
    return targets(question_language(q.question.question, shares), shares)


def translations(lab: Lab, method: str) -> dict[str, str]:
    """Question id -> translated text (for questions that need one), cached per method."""
    from app.rag.crosslingual import GlossaryTranslator, LLMTranslator, Translator
    from app.rag.glossary import Glossary

    path = OUT / f"translations-{method}.json"
    cache: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    todo = [q for q in lab.questions if needs_translation(lab, q)]
    missing = [q for q in todo if q.question.question not in cache]

    async def run() -> None:
        import httpx

        from app.services.llm import build_llm

        translator: Translator
        async with httpx.AsyncClient() as http:
            if method == "glossary":
                translator = GlossaryTranslator(Glossary.default())
            else:
                settings = get_settings(openai_temperature=0.0, openai_max_tokens=80)
                translator = LLMTranslator(
                    build_llm(settings, settings.model_comprehensive, http), 300
                )
            for i, q in enumerate(missing):
                text = q.question.question
                target = needs_translation(lab, q)[0]
                source = "en" if target == "id" else "id"
                result = await translator.translate(text, source, target)
                cache[text] = result.text
                print(f"{i + 1}/{len(missing)} {result.seconds:.1f}s {text!r} -> {result.text!r}")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(cache, ensure_ascii=False, indent=1), encoding="utf-8")

    if missing:
        asyncio.run(run())
    return {q.question.id: cache[q.question.question] for q in todo}


def per_page(lab: Lab, ranker: Ranker) -> Ranker:
    """The same ranking with later chunks of an already listed page dropped."""

    def rank(q: LabQuestion) -> list[int]:
        docs = lab.courses[q.question.course_id].docs
        seen: set[tuple[str, int]] = set()
        out: list[int] = []
        for i in ranker(q):
            page = (str(docs[i].metadata["filename"]), int(docs[i].metadata["page"]))
            if page not in seen:
                seen.add(page)
                out.append(i)
        return out

    return rank


def crosslingual_recipes(lab: Lab, settings: Settings) -> dict[str, Ranker]:
    def dense(q: LabQuestion) -> list[int]:
        return lab.dense(q)

    def lex(q: LabQuestion) -> list[int]:
        return lab.bm25(q, STEM)

    base = fused(dense, lex, weights=(1.0, LEXICAL_WEIGHT))
    out: dict[str, Ranker] = {"dense": dense, "RRF dense + BM25 (no translation)": base}
    out["RRF dense + BM25, one chunk per page"] = per_page(lab, base)
    model = build_embedding(settings)
    for method in ("glossary", "llm"):
        table_ = translations(lab, method)
        vectors = {
            qid: np.asarray(model.get_query_embedding(normalize_question(text)), dtype=np.float32)
            for qid, text in table_.items()
        }

        def both(q: LabQuestion, t: dict[str, str] = table_, v: dict[str, Matrix] = vectors,
                 lex_original: bool = True) -> list[int]:  # fmt: skip
            text = t.get(q.question.id)
            if text is None:
                return base(q)
            target = needs_translation(lab, q)[0]
            vec = v[q.question.id] / np.linalg.norm(v[q.question.id])
            lists = [lab.dense(q)[:POOL], lab.dense(q, vec)[:POOL]]
            lists.append(lab.bm25(q, STEM, text, target)[:POOL])
            if lex_original:
                lists.append(lex(q)[:POOL])
            return [doc for doc, _ in rrf(lists)]

        def nested(q: LabQuestion, t: dict[str, str] = table_, v: dict[str, Matrix] = vectors,
                   ) -> list[int]:  # fmt: skip
            text = t.get(q.question.id)
            if text is None:
                return base(q)
            target = needs_translation(lab, q)[0]
            vec = v[q.question.id] / np.linalg.norm(v[q.question.id])
            translated = [
                doc
                for doc, _ in rrf(
                    [lab.dense(q, vec)[:POOL], lab.bm25(q, STEM, text, target)[:POOL]],
                    (1.0, LEXICAL_WEIGHT),
                )
            ]
            return [doc for doc, _ in rrf([base(q)[:POOL], translated[:POOL]])]

        out[f"{method}: fuse(original, translated) of RRF(dense, BM25)"] = nested
        out[f"{method}: one RRF of dense, dense(tr), BM25(tr), BM25"] = both
        out[f"{method}: one RRF of dense, dense(tr), BM25(tr)"] = functools.partial(
            both, t=table_, v=vectors, lex_original=False
        )
    return out


if __name__ == "__main__":
    main()
