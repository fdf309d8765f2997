"""Which semantic-cache distance cut serves paraphrases without serving a wrong answer?

Runs ``evaluation/data/cache_workload.jsonl`` through the app's own cache path (``AnswerCache`` over
RedisVL's ``SemanticCache``, the real local e5 embedding, the real ``CacheScope`` with the language
the app would detect) under a throwaway ``benchcache…`` key prefix, which is dropped afterwards.
Two views: a static one (each group's original stored, every other question looked up) and a
repeat stream (every question in seeded random order, stored after a miss as the app does).

    .venv/bin/python -m bench.cache_workload [--seeds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import redis
from llama_index.core.base.embeddings.base import BaseEmbedding

from app.core.config import get_settings
from app.core.embeddings import build_embedding
from app.services.cache import AnswerCache, CacheScope, build_semantic_cache, close_semantic_cache
from app.services.lexical import detect_language, normalize_question

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "evaluation" / "data" / "cache_workload.jsonl"
CONTENT_VERSION = "bench-v1"
GENERATOR = "bench-model:1"
THRESHOLDS = [0.005, 0.01, 0.015, 0.02, 0.025, 0.03] + [round(0.01 * i, 2) for i in range(4, 21)]
NEAREST = 1.0  # RedisVL's largest allowed cut: the lookup returns the nearest in-scope entry
FALSE_HIT_BUDGET = 0.01
HIT_GOAL = 0.40


@dataclass(frozen=True)
class Question:
    id: str
    course_id: str
    text: str
    group: str
    kind: str
    near_kind: str | None
    language: str

    @property
    def answer_id(self) -> str:
        """Which answer is right for it: the group's for paraphrases, its own for a near-miss."""
        return self.id if self.kind == "near_miss" else self.group

    def scope(self) -> CacheScope:
        return CacheScope(
            frozenset({self.course_id}), CONTENT_VERSION, detect_language(self.text), (GENERATOR,)
        )


@dataclass(frozen=True)
class Row:
    threshold: float
    surface_hit: float  # originals lower-cased / without "?" / without punctuation
    para_hit: float  # paraphrases served their own group's original
    near_false: float  # near-misses served anything
    static_false: float  # paraphrases + near-misses served an answer that is not theirs
    stream_hit: float  # repeat stream, all questions: correct hits / requests
    stream_false: float  # repeat stream, all questions: wrong hits / requests
    repeat_hit: float  # repeat stream, originals + paraphrases only
    repeat_false: float


def load_workload(path: Path = WORKLOAD) -> list[Question]:
    with path.open(encoding="utf-8") as handle:
        return [Question(**json.loads(line)) for line in handle if line.strip()]


def surface_variants(qs: list[Question]) -> list[Question]:
    """The same question typed differently: lower case, no question mark, no punctuation."""
    out = []
    for q in qs:
        if q.kind != "original":
            continue
        bare = re.sub(r"[^\w\s/+.-]", "", q.text.lower()).strip()
        texts = {"lower": q.text.lower(), "noq": q.text.rstrip("?").strip(), "bare": bare}
        for name, text in texts.items():
            out.append(
                Question(f"{q.id}~{name}", q.course_id, text, q.group, "surface", None, q.language)
            )
    return out


def percentiles(values: list[float]) -> tuple[float, float, float]:
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return deciles[0], statistics.median(values), deciles[8]


async def served(cache: AnswerCache, vec: list[float], q: Question, t: float) -> str | None:
    hit = await cache.lookup(vec, q.scope(), threshold=t)
    return None if hit is None else str(hit.metadata["answer_id"])


async def store(cache: AnswerCache, vec: list[float], q: Question) -> None:
    meta = {"answer_id": q.answer_id}
    await cache.store(q.text, f"answer {q.answer_id}", vec, q.scope(), meta, GENERATOR)


async def static_run(
    cache: AnswerCache, qs: list[Question], vecs: dict[str, list[float]]
) -> tuple[dict[float, tuple[float, float, float, float]], dict[str, float | None]]:
    """Originals stored; per threshold (surface, para hit, near-miss false, false) and nearest."""
    await cache.clear()
    for q in qs:
        if q.kind == "original":
            await store(cache, vecs[q.id], q)
    probes = [q for q in qs if q.kind != "original"]
    nearest: dict[str, float | None] = {}
    for q in probes:
        hit = await cache.lookup(vecs[q.id], q.scope(), threshold=NEAREST)
        nearest[q.id] = None if hit is None else hit.distance
    paras = [q for q in probes if q.kind == "paraphrase"]
    nears = [q for q in probes if q.kind == "near_miss"]
    asked = [q for q in probes if q.kind != "surface"]
    surface = [q for q in probes if q.kind == "surface"]
    out: dict[float, tuple[float, float, float, float]] = {}
    for t in THRESHOLDS:
        got = {q.id: await served(cache, vecs[q.id], q, t) for q in probes}
        same = sum(got[q.id] == q.answer_id for q in surface)
        para_ok = sum(got[q.id] == q.answer_id for q in paras)
        wrong = sum(got[q.id] not in (None, q.answer_id) for q in asked)
        near_wrong = sum(got[q.id] is not None for q in nears)
        out[t] = (
            same / len(surface),
            para_ok / len(paras),
            near_wrong / len(nears),
            wrong / len(asked),
        )
    return out, nearest


async def stream_run(
    cache: AnswerCache, qs: list[Question], vecs: dict[str, list[float]], t: float, seed: int
) -> tuple[float, float]:
    """Seeded random arrival order; a miss is answered and stored, a hit is served."""
    order = list(qs)
    random.Random(seed).shuffle(order)
    await cache.clear()
    good = bad = 0
    for q in order:
        answer = await served(cache, vecs[q.id], q, t)
        if answer is None:
            await store(cache, vecs[q.id], q)
        elif answer == q.answer_id:
            good += 1
        else:
            bad += 1
    return good / len(order), bad / len(order)


def own_distances(qs: list[Question], vecs: dict[str, list[float]]) -> dict[str, float | None]:
    """Cosine distance of each non-original to its group's original (scope ignored)."""
    origin = {q.group: vecs[q.id] for q in qs if q.kind == "original"}
    return {
        q.id: max(0.0, 1.0 - sum(a * b for a, b in zip(vecs[q.id], origin[q.group], strict=True)))
        for q in qs
        if q.kind != "original"
    }


def recommend(rows: list[Row]) -> Row:
    """The widest cut whose repeat-stream and static wrong answers both stay within budget."""
    safe = [
        r for r in rows if r.stream_false <= FALSE_HIT_BUDGET and r.static_false <= FALSE_HIT_BUDGET
    ]
    return max(safe, key=lambda r: (r.stream_hit, -r.threshold)) if safe else rows[0]


def print_distances(title: str, qs: list[Question], dist: dict[str, float | None]) -> None:
    by_kind: dict[str, list[float]] = {}
    for q in qs:
        d = dist.get(q.id)
        if d is not None:
            by_kind.setdefault(q.near_kind or q.kind, []).append(d)
    print(f"{title} (p10 / p50 / p90, n):")
    for kind, values in sorted(by_kind.items()):
        p10, p50, p90 = percentiles(values)
        print(f"  {kind:12s} {p10:.3f} / {p50:.3f} / {p90:.3f}  n={len(values)}")


def print_report(
    qs: list[Question],
    rows: list[Row],
    nearest: dict[str, float | None],
    own: dict[str, float | None],
) -> None:
    kinds = Counter(q.kind for q in qs)
    nears = Counter(q.near_kind for q in qs if q.near_kind)
    groups = len({q.group for q in qs})
    mism = [q for q in qs if detect_language(q.text) != q.language]
    print(f"workload: {len(qs)} questions, {groups} groups, {dict(kinds)}, near-miss {dict(nears)}")
    print(f"detected language differs from labelled: {len(mism)} {[q.id for q in mism]}")
    distinct = len({q.answer_id for q in qs})
    repeat = [q for q in qs if q.kind != "near_miss"]
    ceiling_all = 1 - distinct / len(qs)
    ceiling_rep = 1 - len({q.group for q in repeat}) / len(repeat)
    print(f"stream ceilings (every repeat a hit): all {ceiling_all:.1%}, repeats {ceiling_rep:.1%}")
    print("        static: originals stored              | stream, all     | stream, no near-miss")
    print("thr     surface  para_hit near_false wrong   | hit     wrong   | hit     wrong")
    for r in rows:
        static = (
            f"{r.surface_hit:6.1%}  {r.para_hit:6.1%}  {r.near_false:6.1%}  {r.static_false:6.1%}"
        )
        stream = f"{r.stream_hit:6.1%}  {r.stream_false:6.1%}"
        print(
            f"{r.threshold:<6g}  {static}  | {stream}  | {r.repeat_hit:6.1%}  {r.repeat_false:6.1%}"
        )
    print_distances("distance to the own group's original, scope ignored", qs, own)
    print_distances("distance to the nearest in-scope stored original", qs, nearest)
    best = recommend(rows)
    goal = "meets" if best.stream_hit >= HIT_GOAL else "misses"
    print(
        f"recommendation: CACHE_DISTANCE_THRESHOLD={best.threshold:g} for this embedding model"
        f" (stream hit {best.stream_hit:.1%}, wrong {best.stream_false:.1%}; {goal} the"
        f" {HIT_GOAL:.0%} goal; paraphrase hit {best.para_hit:.1%}, near-miss false"
        f" {best.near_false:.1%})"
    )


def drop_prefix(client: redis.Redis, prefix: str) -> None:
    """Remove whatever a crashed run may have left under the bench prefix."""
    leftovers = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if leftovers:
        client.delete(*leftovers)


async def measure(
    url: str, prefix: str, seeds: int, qs: list[Question], embedding: BaseEmbedding
) -> tuple[list[Row], dict[str, float | None], dict[str, list[float]]]:
    probes = qs + surface_variants(qs)
    # the app embeds the normalized question (case, spacing, end punctuation removed)
    vecs = {q.id: await embedding.aget_query_embedding(normalize_question(q.text)) for q in probes}
    client = redis.Redis.from_url(url)
    semantic = await asyncio.to_thread(
        build_semantic_cache, client, embedding, f"{prefix}-answers", 0.1, 3600
    )
    cache = AnswerCache(semantic, timeout=10.0)
    try:
        static, nearest = await static_run(cache, probes, vecs)
        repeat = [q for q in qs if q.kind != "near_miss"]
        rows = []
        for t in THRESHOLDS:
            full = [await stream_run(cache, qs, vecs, t, s) for s in range(seeds)]
            rep = [await stream_run(cache, repeat, vecs, t, s) for s in range(seeds)]
            rows.append(
                Row(
                    t,
                    *static[t],
                    statistics.fmean(h for h, _ in full),
                    statistics.fmean(f for _, f in full),
                    statistics.fmean(h for h, _ in rep),
                    statistics.fmean(f for _, f in rep),
                )
            )
    finally:
        await asyncio.to_thread(semantic.delete)
        await close_semantic_cache(semantic)
        await asyncio.to_thread(drop_prefix, client, prefix)
        client.close()
    return rows, nearest, vecs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6380/0")
    parser.add_argument("--prefix", default=f"benchcache{uuid.uuid4().hex[:8]}")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not args.prefix.startswith("benchcache"):
        raise SystemExit("the key prefix must start with 'benchcache'")
    qs = load_workload()
    settings = get_settings()
    print(f"embedding model: {settings.embedding_model_name}")
    embedding = build_embedding(settings)  # the configured model: local, or OpenAI with a key
    rows, nearest, vecs = asyncio.run(
        measure(args.redis_url, args.prefix, args.seeds, qs, embedding)
    )
    own = own_distances(qs, vecs)
    print_report(qs, rows, nearest, own)
    if args.json is not None:
        payload = {"rows": [asdict(r) for r in rows], "nearest": nearest, "own": own}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
