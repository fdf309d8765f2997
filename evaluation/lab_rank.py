"""Ranking recipes on top of the server's fusion, for the retrieval lab (``--study rank``).

Every recipe starts from the default lists (dense + per-course BM25 with Sastrawi stemming, pool
20, lexical weight 1.25, RRF k 60) and changes one thing: how chunk scores become a page ranking
(page aggregation), a second round with the first round's best chunks (pseudo-relevance feedback
for either leg), or a chunk's score borrowing from its neighbours on the page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from app.rag.lexical_index import CourseLexicalIndex
from evaluation.lab import LEXICAL_WEIGHT, POOL, STEM, Lab, Ranker
from evaluation.lab_data import LabQuestion

Scores = dict[int, float]
Page = tuple[str, int]
RRF_K = 60
Vec = npt.NDArray[Any]


def rrf_scores(lists: Sequence[Sequence[int]], weights: Sequence[float], k: int = RRF_K) -> Scores:
    out: Scores = {}
    for items, weight in zip(lists, weights, strict=True):
        for rank, doc in enumerate(items, start=1):
            out[doc] = out.get(doc, 0.0) + weight / (k + rank)
    return out


def ordered(scores: Scores) -> list[int]:
    return [d for d, _ in sorted(scores.items(), key=lambda kv: kv[1], reverse=True)]


class Rank:
    """The lab's base lists for a question, and the helpers the recipes share."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._terms: dict[str, list[list[str]]] = {}
        self.adjacent: dict[str, dict[int, tuple[int | None, int | None]]] = {}

    def index(self, q: LabQuestion) -> CourseLexicalIndex:
        return self.lab.lexical_index(q.question.course_id, STEM)

    def page(self, q: LabQuestion, doc: int) -> Page:
        meta = self.lab.courses[q.question.course_id].docs[doc].metadata
        return str(meta["filename"]), int(meta["page"])

    def dense(self, q: LabQuestion, pool: int = POOL) -> list[int]:
        return self.lab.dense(q)[:pool]

    def lexical(self, q: LabQuestion, pool: int = POOL) -> list[int]:
        return self.lab.bm25(q, STEM)[:pool]

    def base(self, q: LabQuestion, pool: int = POOL, weight: float = LEXICAL_WEIGHT) -> Scores:
        return rrf_scores([self.dense(q, pool), self.lexical(q, pool)], (1.0, weight))

    def doc_terms(self, q: LabQuestion) -> list[list[str]]:
        course = q.question.course_id
        if course not in self._terms:
            index = self.index(q)
            self._terms[course] = [
                index.analyzer.terms(d.text, lang)
                for d, lang in zip(index.docs, index.languages, strict=True)
            ]
        return self._terms[course]


# --- page aggregation -------------------------------------------------------------------------


def by_page(rank: Rank, q: LabQuestion, scores: Scores) -> dict[Page, list[tuple[int, float]]]:
    pages: dict[Page, list[tuple[int, float]]] = defaultdict(list)
    for doc, s in sorted(scores.items(), key=lambda kv: kv[1], reverse=True):
        pages[rank.page(q, doc)].append((doc, s))
    return pages


def page_ranked(
    rank: Rank,
    q: LabQuestion,
    scores: Scores,
    combine: Callable[[list[float]], float],
    keep: str = "best",
) -> list[int]:
    """Pages by ``combine`` of their chunks' scores; each page's best chunk (``keep="best"``) or
    all its chunks, best first (``keep="all"``)."""
    pages = by_page(rank, q, scores)
    order = sorted(pages, key=lambda p: combine([s for _, s in pages[p]]), reverse=True)
    out: list[int] = []
    for p in order:
        docs = [d for d, _ in pages[p]]
        out.extend(docs[:1] if keep == "best" else docs)
    return out


def page_rrf(rank: Rank, q: LabQuestion, pool: int, weight: float) -> list[int]:
    """RRF over page lists (each leg's chunk list reduced to its pages, first place kept)."""
    lists = []
    for docs in (rank.dense(q, pool), rank.lexical(q, pool)):
        seen: dict[Page, None] = {}
        for d in docs:
            seen.setdefault(rank.page(q, d), None)
        lists.append(list(seen))
    page_scores: dict[Page, float] = {}
    for items, w in zip(lists, (1.0, weight), strict=True):
        for r, p in enumerate(items, 1):
            page_scores[p] = page_scores.get(p, 0.0) + w / (RRF_K + r)
    chunk = rank.base(q, pool, weight)
    best: dict[Page, tuple[int, float]] = {}
    for d, s in chunk.items():
        p = rank.page(q, d)
        if p not in best or s > best[p][1]:
            best[p] = (d, s)
    return [best[p][0] for p in sorted(page_scores, key=lambda p: page_scores[p], reverse=True)]


def aggregation_recipes(lab: Lab, rank: Rank) -> dict[str, Ranker]:
    def base(q: LabQuestion) -> list[int]:
        return ordered(rank.base(q))

    def dedupe(q: LabQuestion) -> list[int]:
        return page_ranked(rank, q, rank.base(q), lambda s: s[0])

    out: dict[str, Ranker] = {"default (dense + BM25, RRF)": base, "one chunk per page": dedupe}
    for beta in (0.1, 0.25, 0.5, 1.0):
        out[f"page: max + {beta} x rest"] = partial(
            lambda q, b: page_ranked(rank, q, rank.base(q), lambda s: s[0] + b * sum(s[1:])), b=beta
        )
    out["page: max + 0.25 x second"] = lambda q: page_ranked(
        rank, q, rank.base(q), lambda s: s[0] + 0.25 * (s[1] if len(s) > 1 else 0.0)
    )
    out["page: max + 0.5 x rest, all chunks"] = lambda q: page_ranked(
        rank, q, rank.base(q), lambda s: s[0] + 0.5 * sum(s[1:]), keep="all"
    )
    for pool in (20, 30, 50):
        out[f"page RRF (page lists), pool {pool}"] = partial(
            lambda q, p: page_rrf(rank, q, p, LEXICAL_WEIGHT), p=pool
        )
        out[f"page: CombSUM, pool {pool}"] = partial(
            lambda q, p: page_ranked(rank, q, rank.base(q, p), sum), p=pool
        )
        out[f"page: max + 0.5 x rest, pool {pool}"] = partial(
            lambda q, p: page_ranked(rank, q, rank.base(q, p), lambda s: s[0] + 0.5 * sum(s[1:])),
            p=pool,
        )
    return out


# --- neighbour smoothing ----------------------------------------------------------------------


def reading_order(rank: Rank, q: LabQuestion) -> dict[int, tuple[int | None, int | None]]:
    """Each chunk's previous and next chunk of the same file, in (page, position) order."""
    course = q.question.course_id
    if course not in rank.adjacent:
        docs = rank.lab.courses[course].docs
        key = [
            (str(d.metadata["filename"]), int(d.metadata["page"]), int(d.metadata["position"]))
            for d in docs
        ]
        order = sorted(range(len(docs)), key=lambda i: key[i])
        adj: dict[int, tuple[int | None, int | None]] = {}
        for n, i in enumerate(order):
            prev = order[n - 1] if n > 0 and key[order[n - 1]][0] == key[i][0] else None
            nxt = order[n + 1] if n + 1 < len(order) and key[order[n + 1]][0] == key[i][0] else None
            adj[i] = (prev, nxt)
        rank.adjacent[course] = adj
    return rank.adjacent[course]


def neighbours(rank: Rank, q: LabQuestion, scores: Scores, gamma: float, cross: bool) -> Scores:
    """Each chunk's score plus ``gamma`` x its adjacent chunks' (same file; same page unless
    ``cross``, else at most the next or previous page)."""
    docs = rank.lab.courses[q.question.course_id].docs
    adj = reading_order(rank, q)
    out: Scores = dict(scores)
    for doc, s in scores.items():
        for other in adj[doc]:
            if other is None:
                continue
            gap = abs(int(docs[doc].metadata["page"]) - int(docs[other].metadata["page"]))
            if gap > (1 if cross else 0):
                continue
            out[other] = out.get(other, 0.0) + gamma * s
    return out


def neighbour_recipes(lab: Lab, rank: Rank) -> dict[str, Ranker]:
    out: dict[str, Ranker] = {}
    for gamma in (0.1, 0.25, 0.5):
        for cross in (False, True):
            name = f"neighbours {gamma}, {'across pages' if cross else 'same page'}"
            out[name] = partial(
                lambda q, g, c: ordered(neighbours(rank, q, rank.base(q), g, c)), g=gamma, c=cross
            )
    return out


# --- pseudo-relevance feedback ----------------------------------------------------------------


def rocchio(rank: Rank, q: LabQuestion, top: int, alpha: float, source: str) -> Vec:
    lab = rank.lab
    chunks = lab.courses[q.question.course_id]
    first = ordered(rank.base(q)) if source == "fused" else rank.dense(q)
    centroid = chunks.vectors[first[:top]].mean(axis=0)
    vector = alpha * lab.qvec[q.question.id] + (1.0 - alpha) * centroid
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float32)


def rm3_scores(rank: Rank, q: LabQuestion, top: int, terms: int, lam: float, source: str) -> Vec:
    """BM25 with the question's terms (weight ``lam``, shared) and ``terms`` expansion terms from
    the first round's ``top`` chunks (weight 1 - lam, by relevance model x IDF)."""
    index = rank.index(q)
    bm25 = index.bm25
    asked = index.query_terms(q.question.question)
    first_scores = rank.base(q)
    first = ordered(first_scores) if source == "fused" else rank.dense(q)
    doc_terms = rank.doc_terms(q)
    model: dict[str, float] = defaultdict(float)
    weights = np.array([1.0 / (RRF_K + r) for r in range(1, top + 1)])
    weights /= weights.sum()
    for w, doc in zip(weights, first[:top], strict=False):
        words = doc_terms[doc]
        if not words:
            continue
        for t in set(words):
            model[t] += w * words.count(t) / len(words)
    candidates = {t: p * bm25.idf(t) for t, p in model.items() if t not in asked and len(t) > 2}
    expansion = sorted(candidates, key=lambda t: candidates[t], reverse=True)[:terms]
    total = sum(candidates[t] for t in expansion) or 1.0
    out = np.zeros(bm25.size, dtype=np.float64)
    for t in asked:
        out += (lam / max(len(asked), 1)) * bm25.scores([t])
    for t in expansion:
        out += (1.0 - lam) * candidates[t] / total * bm25.scores([t])
    return out


def top_of(scores: Vec, k: int) -> list[int]:
    hits = np.flatnonzero(scores > 0)
    return [int(i) for i in hits[np.lexsort((hits, -scores[hits]))][:k]]


def prf_recipes(lab: Lab, rank: Rank) -> dict[str, Ranker]:
    out: dict[str, Ranker] = {}

    def dense_with(vector: Vec, q: LabQuestion) -> list[int]:
        return lab.dense(q, vector)[:POOL]

    for source in ("fused", "dense"):
        for top in (3, 5):
            for alpha in (0.5, 0.7, 0.85):
                name = f"Rocchio dense ({source} top {top}, alpha {alpha}) + BM25"
                out[name] = partial(
                    lambda q, s, t, a: ordered(
                        rrf_scores(
                            [dense_with(rocchio(rank, q, t, a, s), q), rank.lexical(q)],
                            (1.0, LEXICAL_WEIGHT),
                        )
                    ),
                    s=source,
                    t=top,
                    a=alpha,
                )
        name = f"dense + Rocchio dense ({source} top 3, alpha 0.7) + BM25"
        out[name] = partial(
            lambda q, s: ordered(
                rrf_scores(
                    [rank.dense(q), dense_with(rocchio(rank, q, 3, 0.7, s), q), rank.lexical(q)],
                    (1.0, 1.0, LEXICAL_WEIGHT),
                )
            ),
            s=source,
        )
    for top in (3, 5, 10):
        for terms in (5, 10, 20):
            for lam in (0.5, 0.7):
                name = f"RM3 BM25 (fused top {top}, {terms} terms, lambda {lam}) + dense"
                out[name] = partial(
                    lambda q, t, n, la: ordered(
                        rrf_scores(
                            [rank.dense(q), top_of(rm3_scores(rank, q, t, n, la, "fused"), POOL)],
                            (1.0, LEXICAL_WEIGHT),
                        )
                    ),
                    t=top,
                    n=terms,
                    la=lam,
                )
    out["RM3 BM25 added as third list (fused top 5, 10 terms, 0.5)"] = lambda q: ordered(
        rrf_scores(
            [
                rank.dense(q),
                rank.lexical(q),
                top_of(rm3_scores(rank, q, 5, 10, 0.5, "fused"), POOL),
            ],
            (1.0, LEXICAL_WEIGHT, 1.0),
        )
    )
    return out


def rank_recipes(lab: Lab, part: str = "all") -> dict[str, Ranker]:
    rank = Rank(lab)
    out: dict[str, Ranker] = {"default (dense + BM25, RRF)": lambda q: ordered(rank.base(q))}
    if part in ("all", "pages"):
        out.update(aggregation_recipes(lab, rank))
    if part in ("all", "neighbours"):
        out.update(neighbour_recipes(lab, rank))
    if part in ("all", "prf"):
        out.update(prf_recipes(lab, rank))
    if part in ("all", "fusion2"):
        out.update(fusion2_recipes(lab, rank))
    if part == "convex":
        out.update(convex_recipes(lab, rank))
    if part == "context":  # re-embeds every chunk once (minutes): only when asked for
        out.update(context_recipes(lab, rank))
    return out


# --- contextual chunk text (re-embedded in the lab) ---------------------------------------------


def page_heading(text: str, words: int = 12) -> str:
    """The first line of a page's first chunk, cut to ``words`` words (a section heading or
    the running header, whichever the page starts with)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return " ".join(first.split()[:words])


def contextual_texts(lab: Lab, course_id: str, heading: bool) -> list[str]:
    docs = lab.courses[course_id].docs
    first: dict[tuple[str, int], str] = {}
    for d in sorted(docs, key=lambda d: int(d.metadata["position"])):
        first.setdefault((str(d.metadata["filename"]), int(d.metadata["page"])), d.text)
    out = []
    for d in docs:
        parts = [str(d.metadata.get("title") or "").strip()]
        if heading:
            head = page_heading(first[(str(d.metadata["filename"]), int(d.metadata["page"]))])
            if head and not d.text.startswith(head):
                parts.append(head)
        prefix = ". ".join(p for p in parts if p)
        out.append(f"{prefix}\n{d.text}" if prefix else d.text)
    return out


def contextual_vectors(lab: Lab, heading: bool) -> dict[str, Vec]:
    """Chunk vectors of every course re-embedded with the contextual text (cached; timed)."""
    import hashlib
    import time

    from app.core.config import get_settings
    from app.core.embeddings import build_embedding
    from evaluation.lab import OUT

    out: dict[str, Vec] = {}
    model = None
    for course_id in sorted(lab.courses):
        texts = contextual_texts(lab, course_id, heading)
        digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
        path = OUT / f"cvec-{course_id}-{digest}.npy"
        if path.exists():
            out[course_id] = np.load(path)
            continue
        if model is None:
            model = build_embedding(get_settings())
        started = time.perf_counter()
        rows = np.asarray(model.get_text_embedding_batch(texts), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        seconds = time.perf_counter() - started
        print(f"embedded {len(texts)} chunks of {course_id} in {seconds:.1f} s")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rows)
        out[course_id] = rows
    return out


def context_recipes(lab: Lab, rank: Rank) -> dict[str, Ranker]:
    out: dict[str, Ranker] = {}
    for heading in (False, True):
        vectors = contextual_vectors(lab, heading)
        what = "title + page heading" if heading else "title"

        def dense_ctx(q: LabQuestion, v: dict[str, Vec] = vectors) -> list[int]:
            sims = v[q.question.course_id] @ lab.qvec[q.question.id]
            return [int(i) for i in np.argsort(-sims, kind="stable")[:POOL]]

        out[f"dense, {what} prefixed"] = dense_ctx
        out[f"dense ({what} prefixed) + BM25"] = partial(
            lambda q, f: ordered(rrf_scores([f(q), rank.lexical(q)], (1.0, LEXICAL_WEIGHT))),
            f=dense_ctx,
        )
    return out


# --- score-aware fusion -----------------------------------------------------------------------


def dense_sims(lab: Lab, q: LabQuestion) -> Vec:
    return lab.courses[q.question.course_id].vectors @ lab.qvec[q.question.id]  # type: ignore[no-any-return]


def convex(rank: Rank, q: LabQuestion, weight: float, norm: str, depth: int = 50) -> list[int]:
    """Normalised scores added (dense + weight x BM25) over both legs' top ``depth``."""
    sims = dense_sims(rank.lab, q)
    index = rank.index(q)
    bm = index.bm25.scores(index.query_terms(q.question.question)).astype(np.float64)
    cand = set(np.argsort(-sims)[:depth].tolist()) | set(top_of(bm, depth))
    ids = np.array(sorted(cand))

    def scale(x: Vec) -> Vec:
        if norm == "z":
            sd = x.std()
            return np.asarray((x - x.mean()) / (sd or 1.0))
        lo, hi = x.min(), x.max()
        return np.asarray((x - lo) / ((hi - lo) or 1.0))

    lexical = scale(bm[ids]) if bm[ids].max() > 0 else np.zeros(len(ids))
    total = scale(sims[ids].astype(np.float64)) + weight * lexical
    return [int(ids[i]) for i in np.argsort(-total, kind="stable")]


def adaptive(rank: Rank, q: LabQuestion, floor: float, power: float) -> list[int]:
    """RRF whose lexical weight shrinks when the best BM25 chunk holds little of the question's
    IDF mass (the student's words are not the page's: BM25 is then matching noise)."""
    index = rank.index(q)
    terms = index.query_terms(q.question.question)
    lex = rank.lexical(q)
    cov = index.bm25.coverage(terms, lex[0]) if lex else 0.0
    weight = LEXICAL_WEIGHT * max(floor, cov**power)
    return ordered(rrf_scores([rank.dense(q), lex], (1.0, weight)))


def fusion2_recipes(lab: Lab, rank: Rank) -> dict[str, Ranker]:
    out: dict[str, Ranker] = {}
    for norm in ("z", "minmax"):
        for w in (0.3, 0.5, 0.75, 1.0):
            out[f"convex {norm}, BM25 weight {w}"] = partial(
                lambda q, n, ww: convex(rank, q, ww, n), n=norm, ww=w
            )
    for floor in (0.0, 0.25, 0.5):
        for power in (1.0, 2.0):
            out[f"adaptive RRF: weight x max({floor}, cov^{power})"] = partial(
                lambda q, f, p: adaptive(rank, q, f, p), f=floor, p=power
            )
    return out


def convex_pooled(
    rank: Rank, q: LabQuestion, weight: float, pool: int = POOL, impute: str = "min"
) -> list[int]:
    """What the server can do: each leg's own top ``pool`` with its scores, each list z-scored
    on its own; a chunk missing from a list gets that list's lowest z (``impute="min"``) or its
    true score when known (``impute="exact"``: the dense cosine of a lexical-only chunk)."""
    sims = dense_sims(rank.lab, q)
    index = rank.index(q)
    bm = index.bm25.scores(index.query_terms(q.question.question)).astype(np.float64)
    dense_ids = rank.dense(q, pool)
    lex_ids = top_of(bm, pool)

    def z(values: Vec) -> tuple[Vec, float, float]:
        mean, sd = float(values.mean()), float(values.std()) or 1.0
        return (values - mean) / sd, mean, sd

    dz, dmean, dsd = z(sims[dense_ids].astype(np.float64))
    total: dict[int, float] = {d: float(s) for d, s in zip(dense_ids, dz, strict=True)}
    floor_d = float(dz.min())
    for d in lex_ids:
        if d not in total:
            total[d] = (float(sims[d]) - dmean) / dsd if impute == "exact" else floor_d
    if lex_ids:
        lz, _, _ = z(bm[lex_ids])
        floor_l = float(lz.min())
        lex_z = dict(zip(lex_ids, lz, strict=True))
        for d in total:
            total[d] += weight * float(lex_z.get(d, floor_l))
    return ordered(total)


def convex_recipes(lab: Lab, rank: Rank) -> dict[str, Ranker]:
    out: dict[str, Ranker] = {}
    for w in (0.5, 0.75, 1.0, 1.25):
        out[f"convex z, depth 50, weight {w}"] = partial(
            lambda q, ww: convex(rank, q, ww, "z"), ww=w
        )
        for pool in (20, 30):
            for imp in ("min", "exact"):
                out[f"convex z per list, pool {pool}, {imp}, weight {w}"] = partial(
                    lambda q, ww, p, i: convex_pooled(rank, q, ww, p, i), ww=w, p=pool, i=imp
                )
    for w in (0.8, 1.0, 1.25, 1.5):
        out[f"z over the union (the server's), weight {w}"] = partial(
            lambda q, ww: convex_union(rank, q, ww), ww=w
        )
    return out


def convex_union(rank: Rank, q: LabQuestion, weight: float, pool: int = POOL) -> list[int]:
    """z-scores over the union of both legs' top ``pool``: a chunk missing from a list that is
    shorter than the pool scores 0 there (the leg matched nothing more), else the list's lowest
    score."""
    sims = dense_sims(rank.lab, q)
    index = rank.index(q)
    bm = index.bm25.scores(index.query_terms(q.question.question)).astype(np.float64)
    lists = [
        (1.0, {d: float(sims[d]) for d in rank.dense(q, pool)}),
        (weight, {d: float(bm[d]) for d in top_of(bm, pool)}),
    ]
    union = list(dict.fromkeys(d for _, scores in lists for d in scores))
    total = np.zeros(len(union))
    for w, scores in lists:
        if not scores:
            continue
        floor = 0.0 if len(scores) < pool else min(scores.values())
        values = np.array([scores.get(d, floor) for d in union])
        sd = values.std() or 1.0
        total += w * (values - values.mean()) / sd
    return [union[i] for i in np.argsort(-total, kind="stable")]
