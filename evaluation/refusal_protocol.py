"""``python -m evaluation.refusal_protocol``: "not covered" through ``/ws/stream`` with a real LLM.

The real server (uvicorn, ``create_app``) over the eval index (``make eval`` ingests it, prefix
``eval``) answers the students set's not-covered questions of one split and a same-size sample
of its answerable ones, with the configured LLM (the local llama.cpp model unless an OpenAI key
is set) and the default query path: BM25 + dense, the glossary, the refusal gate, the model's own
refusal and the grounding check. Reported: not-covered questions answered ``not_covered``, false
refusals, and the share of the refusals decided before any LLM call (``refusal_gate``), with the
reasons. The answers are written to ``evaluation/out`` (not committed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.core.config import get_settings
from app.main import create_app
from evaluation.lab_data import LabQuestion, read_questions
from tests.support.client import ask, connect
from tests.support.live_server import live_server

OUT = Path("evaluation/out")


def pick(questions: Sequence[LabQuestion], not_covered: int, seed: int) -> list[LabQuestion]:
    """``not_covered`` uncovered questions and as many answerable ones, spread over the kinds."""
    uncovered = [q for q in questions if not q.question.answerable][:not_covered]
    answerable = [q for q in questions if q.question.answerable]
    random.Random(seed).shuffle(answerable)
    kinds = sorted({q.kind for q in answerable})
    chosen: list[LabQuestion] = []
    while len(chosen) < len(uncovered) and answerable:
        for kind in kinds:
            match = next((q for q in answerable if q.kind == kind), None)
            if match is not None and len(chosen) < len(uncovered):
                chosen.append(match)
                answerable.remove(match)
    # alternate the two groups, so a run stopped early still has both in equal numbers
    return [q for pair in zip(uncovered, chosen, strict=False) for q in pair]


async def run(url: str, questions: Sequence[LabQuestion], wait: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(questions, 1):
        started = time.perf_counter()
        ws, _ = await connect(url, user_id=f"eval{i}", course_id=q.question.course_id)
        async with ws:
            turn = await ask(ws, q.question.question, timeout=wait)
        final = turn.final
        meta = final.get("metadata", {})
        rows.append(
            {
                "id": q.question.id,
                "kind": q.kind,
                "answerable": q.question.answerable,
                "source": final.get("response_source", final.get("error_code")),
                "reason": meta.get("not_covered_reason"),
                "revised": meta.get("revised"),
                "llm_calls": len(final.get("token_usage", {}).get("calls", [])),
                "seconds": round(time.perf_counter() - started, 1),
                "response": final.get("response", final.get("error")),
            }
        )
        row = rows[-1]
        print(f"{i}/{len(questions)} {row['id']} {row['kind']}: {row['source']} "
              f"{row['reason'] or ''} {row['seconds']} s", flush=True)  # fmt: skip
    return rows


def summary(rows: Sequence[dict[str, Any]]) -> str:
    uncovered = [r for r in rows if not r["answerable"]]
    answerable = [r for r in rows if r["answerable"]]
    refused = [r for r in uncovered if r["source"] == "not_covered"]
    false = [r for r in answerable if r["source"] == "not_covered"]
    before = [r for r in refused if r["reason"] == "refusal_gate"]
    lines = [
        f"not covered answered not_covered: {len(refused)}/{len(uncovered)}",
        f"  decided before the LLM (refusal_gate): {len(before)}/{len(refused)}",
        f"  by reason: {dict(Counter(r['reason'] for r in refused))}",
        f"answerable answered not_covered (false refusals): {len(false)}/{len(answerable)}",
        f"  by reason: {dict(Counter(r['reason'] for r in false))}",
        f"answerable answers revised by grounding: {sum(bool(r['revised']) for r in answerable)}",
        f"errors: {sum(r['source'] not in ('rag', 'not_covered', 'cache') for r in rows)}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--prefix", default="eval")
    p.add_argument("--questions", type=Path, default=Path("evaluation/data/students_eval.jsonl"))
    p.add_argument("--split", default="heldout")
    p.add_argument("--not-covered", type=int, default=27, help="uncovered questions to ask")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--courses", help="comma-separated course ids to ask about (default: all)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per answer")
    args = p.parse_args(argv)
    asked = read_questions([args.questions], args.split)
    if args.courses:
        wanted = set(args.courses.split(","))
        asked = [q for q in asked if q.question.course_id in wanted]
    questions = pick(asked, args.not_covered, args.seed)
    settings = get_settings(
        key_prefix=args.prefix,
        cache_enabled=False,  # every question answered afresh
        rag_lexical_build_wait_seconds=120.0,
        rate_limit_requests=0,
        rate_limit_ip_requests=0,
        ws_max_connections_per_user=0,
        ws_max_connections_per_ip=0,
        openai_timeout_seconds=args.timeout,
        data_dir=Path("var/refusal-protocol"),
    )
    with live_server(create_app(settings)) as url:
        rows = asyncio.run(run(url, questions, args.timeout))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"refusal-protocol-{settings.model_comprehensive}-{args.split}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    print(f"model={settings.model_comprehensive} split={args.split} n={len(rows)}")
    print(summary(rows))


if __name__ == "__main__":
    main()
