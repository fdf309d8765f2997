"""Why the shipped RediSearch lexical leg loses: the same query through RediSearch variants.

Runs the server's RediSearch query text (``app.services.lexical.redis_text_query``) with other
scorers, without ``VERBATIM``, and against extra indexes over the same hashes (a ``NOSTEM`` text
field, ``LANGUAGE indonesian``), each alone and fused with dense, next to the in-process BM25.
"""

from __future__ import annotations

import time

import redis
from redis.commands.search.query import Query
from redisvl.query.filter import Tag

from app.core.config import get_settings
from app.core.knowledge import chunk_schema
from app.rag.analysis import Stemming
from app.services.lexical import query_terms, text_clause
from evaluation.lab import Lab, Ranker, fused
from evaluation.lab_data import LabQuestion


def redis_text_query(terms: list[str], course_id: str) -> str:
    """The query text of the RediSearch lexical leg: any term, in the course, no toc/index."""
    return f"{Tag('course_id') == course_id} {text_clause(terms)} -@chunk_type:{{toc|index}}"


def redis_lexical_ranker(
    lab: Lab,
    prefix: str,
    index_name: str | None = None,
    scorer: str = "BM25",
    verbatim: bool = True,
    language: str | None = None,
) -> Ranker:
    """The shipped RediSearch lexical leg (same query text), or a variant of it."""
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
