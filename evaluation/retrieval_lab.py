"""``python -m evaluation.retrieval_lab``: which retrieval recipe finds the right page, by kind.

Every recipe is scored on the same questions (dev split by default) with hit@1 / hit@5 / MRR per
question kind, on the lab's in-memory copy of an eval index (``evaluation/lab.py``). Studies:
``lexical`` (BM25 variants), ``fusion`` (pool, weight, k), ``redis`` (the shipped RediSearch leg
and its variants), ``crosslingual`` (translation recipes), ``translate`` (fill the caches only),
``rank`` (page aggregation, pseudo-relevance feedback, neighbour smoothing, score fusion,
contextual chunk text: ``evaluation/lab_rank.py``, one ``--part`` at a time).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from app.core.config import get_settings
from app.rag.analysis import Stemming
from evaluation.lab import OUT, Lab, Ranker, build_lab, fused, global_idf_ranker
from evaluation.lab_crosslingual import crosslingual_recipes, translations
from evaluation.lab_data import LabQuestion, default_question_files
from evaluation.lab_metrics import table
from evaluation.lab_rank import rank_recipes
from evaluation.lab_redis import redis_recipes


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
        choices=["lexical", "fusion", "redis", "crosslingual", "translate", "rank"],
        default="lexical",
    )
    p.add_argument("--stemming", type=Stemming, default=Stemming.SASTRAWI)
    p.add_argument(
        "--part",
        choices=["all", "pages", "neighbours", "prf", "fusion2", "convex", "context"],
        default="all",
        help="which recipes of the rank study (context re-embeds every chunk: minutes)",
    )
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
        "rank": lambda: rank_recipes(lab, args.part),
    }[args.study]()
    rows = {name: lab.run(r) for name, r in recipes.items()}
    print(table(rows))
    OUT.mkdir(parents=True, exist_ok=True)
    dump = {n: {k: s.__dict__ for k, s in r.items()} for n, r in rows.items()}
    (OUT / f"{args.study}.json").write_text(json.dumps(dump, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
