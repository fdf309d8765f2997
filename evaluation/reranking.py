"""The LLM reranker measured on the retriever's list: ``pipeline_eval --rerank llm``.

The server's reranker (``app.services.query_parts.rerank_factory``, ``RAG_RERANK=llm``) is applied
to each question's fused list after retrieval: it reorders the first ``candidates`` chunks (picked
ones first, the rest after them) and the chunks below those keep their rank, so hit@1 / hit@5 /
MRR@20 compare with the fused list of the same question in the same run. Per question it keeps the
call's seconds, token usage and how many chunks the model picked (zero picks: the model found
nothing that answers, a "not covered" signal). Rows are written as JSON lines as they come, so a
run cut short still has its questions: ``python -m evaluation.reranking ROWS`` summarises them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from llama_index.core.schema import NodeWithScore, QueryBundle

from app.rag.engine import RerankFactory
from evaluation.lab_data import LabQuestion
from evaluation.lab_metrics import DEPTH, Score


@dataclass(frozen=True)
class Reranked:
    nodes: list[NodeWithScore]  # the whole list, reranked head first
    seconds: float
    prompt_tokens: int | None  # None: the call failed
    completion_tokens: int | None
    counted: bool  # the server reported no usage: counted by the project
    picked: int | None  # None: no answer in the expected format (or the call failed)
    picked_ranks: list[int]  # the fused ranks of the picked chunks, in the model's order


async def rerank_list(
    make: RerankFactory, question: str, retrieved: Sequence[NodeWithScore]
) -> Reranked:
    """One turn's reranker over ``retrieved``; chunks it did not return follow in their order."""
    rerank = make()
    started = time.perf_counter()
    head = await rerank.apostprocess_nodes(list(retrieved), QueryBundle(question))
    seconds = time.perf_counter() - started
    seen = {n.node.node_id for n in head}
    nodes = head + [n for n in retrieved if n.node.node_id not in seen]
    usage = rerank.last_usage
    first = usage[0] if usage else None
    fused_rank = {n.node.node_id: i for i, n in enumerate(retrieved, start=1)}
    picked_ranks = [fused_rank[n.node.node_id] for n in head[: rerank.last_picked or 0]]
    return Reranked(
        nodes,
        seconds,
        None if first is None else first.input_tokens,
        None if first is None else first.output_tokens,
        bool(first and first.counted),
        rerank.last_picked,
        picked_ranks,
    )


@dataclass(frozen=True)
class Row:
    """One question's outcome: 1-based rank of the first right chunk (None: not in the top 20)."""

    id: str
    kind: str
    answerable: bool
    refused: bool  # refused before the LLM by the gate: the reranker does not run
    fused_rank: int | None
    reranked_rank: int | None
    seconds: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    counted: bool = False
    picked: int | None = None
    picked_ranks: list[int] | None = None


def first_right(q: LabQuestion, pages: Sequence[tuple[str, int]]) -> int | None:
    for rank, (filename, page) in enumerate(pages[:DEPTH], start=1):
        if q.question.is_right(filename, page):
            return rank
    return None


def sample(
    questions: Sequence[LabQuestion], per_kind: int | None, whole: Iterable[str], seed: int
) -> list[LabQuestion]:
    """``per_kind`` questions of each kind (every question of the kinds in ``whole``), drawn with
    ``seed`` and shuffled, so a run cut short has every kind; ``per_kind=None``: all, in order."""
    if per_kind is None:
        return list(questions)
    rng = random.Random(seed)
    keep = set(whole)
    chosen: list[LabQuestion] = []
    for kind in sorted({q.kind for q in questions}):
        pool = [q for q in questions if q.kind == kind]
        chosen += pool if kind in keep else rng.sample(pool, min(per_kind, len(pool)))
    rng.shuffle(chosen)
    return chosen


def append_row(path: Path, row: Row) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(row)) + "\n")


def read_rows(path: Path) -> list[Row]:
    return [Row(**json.loads(line)) for line in path.read_text("utf-8").splitlines() if line]


def score(ranks: Sequence[int | None]) -> Score:
    n = len(ranks)
    if not n:
        return Score(0, 0.0, 0.0, 0.0)
    return Score(
        n,
        sum(1 for r in ranks if r == 1) / n,
        sum(1 for r in ranks if r is not None and r <= 5) / n,
        sum(1.0 / r for r in ranks if r is not None) / n,
    )


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def summarize(rows: Sequence[Row], candidates: int) -> str:
    """Markdown: hit@1 / hit@5 / MRR by kind without and with the reranker, then its cost and
    its zero picks for answerable and not-covered questions."""
    answerable = [r for r in rows if r.answerable]
    kinds = sorted({r.kind for r in answerable})
    groups = {"all": answerable} | {k: [r for r in answerable if r.kind == k] for k in kinds}
    head = " | ".join(f"{k} ({len(g)})" for k, g in groups.items())
    lines = [f"| list | {head} |", "|---" + "|---:" * len(groups) + "|"]
    for label, attr in (("fused", "fused_rank"), (f"+ LLM rerank ({candidates})", "reranked_rank")):
        cells = [score([getattr(r, attr) for r in g]).cell() for g in groups.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ran = [r for r in rows if r.seconds is not None]
    answered = [r for r in ran if r.prompt_tokens is not None]
    lines.append("")
    lines.append(
        f"reranker calls: {len(ran)} ({len(ran) - len(answered)} failed, "
        f"{sum(1 for r in answered if r.picked is None)} unparsable); seconds per call median "
        f"{_median([r.seconds for r in ran if r.seconds is not None])}, "
        f"max {max((r.seconds or 0.0) for r in ran) if ran else 0:.1f}; tokens per call median "
        f"{_median([r.prompt_tokens for r in answered if r.prompt_tokens is not None])} prompt"
        f"{' (counted)' if any(r.counted for r in answered) else ''}, "
        f"{_median([r.completion_tokens for r in answered if r.completion_tokens is not None])}"
        " completion"
    )
    for label, covered in (("answerable", True), ("not covered", False)):
        group = [r for r in answered if r.answerable == covered]
        picks = [r.picked for r in group if r.picked is not None]
        refused = sum(1 for r in rows if r.refused and r.answerable == covered)
        lines.append(
            f"{label}: {sum(1 for p in picks if p == 0)}/{len(group)} with zero picks, picks "
            f"median {_median(picks)} ({refused} refused by the gate, not reranked)"
        )
    firsts = Counter(r.picked_ranks[0] for r in answered if r.picked_ranks)
    spread = ", ".join(f"{rank}: {n}" for rank, n in sorted(firsts.items()))
    lines.append(f"fused rank of the model's first pick (rank: questions): {spread or '-'}")
    moved = [r for r in answerable if r.fused_rank != r.reranked_rank]
    better = sum(1 for r in moved if (r.reranked_rank or 99) < (r.fused_rank or 99))
    lines.append(f"answerable questions whose right chunk moved: {len(moved)} ({better} up)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Summarise the rows of a pipeline_eval --rerank run.")
    p.add_argument("rows", type=Path)
    p.add_argument("--candidates", type=int, default=10, help="RAG_RERANK_CANDIDATES of the run")
    args = p.parse_args(argv)
    print(summarize(read_rows(args.rows), args.candidates))


if __name__ == "__main__":
    main()
