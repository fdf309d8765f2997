"""``python -m evaluation.answer_lab``: who says "not covered" — the gate, the model, the check?

For dev questions the material does not cover, and a sample of answerable ones, the recommended
retrieval (dense + BM25 + glossary cross-lingual leg, in the lab) picks the sources, the refusal
gate decides first; otherwise the server's own answer prompt goes to the configured LLM (the local
llama.cpp server by default) and the finished answer meets the model's own refusal sentence
(``is_refusal``) and the grounding check. Answers are cached (``evaluation/out/lab/answers-*.json``)
so a run can be resumed.
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

import httpx
from llama_index.core.schema import NodeWithScore

from app.core.config import get_settings
from app.rag.analysis import Stemming
from app.rag.fusion import rrf
from app.rag.grounding import GroundingChecker
from app.rag.nodes import VECTOR_DISTANCE, note
from app.rag.postprocessors import PromptBudget
from app.rag.refusal import RefusalRule, decide, gather_evidence
from app.services.lexical import detect_language
from app.services.llm import build_llm, complete
from app.services.prompt import answer_messages, is_refusal
from evaluation.lab import LEXICAL_WEIGHT, OUT, POOL, STEM, Lab, build_lab
from evaluation.lab_crosslingual import needs_translation, translations
from evaluation.lab_data import LabQuestion


def sample(lab: Lab, per_kind: int, seed: int) -> list[LabQuestion]:
    """Every not-covered question and ``per_kind`` answerable ones of each kind, interleaved (so
    a run cut short still has both groups)."""
    rng = random.Random(seed)
    uncovered = [q for q in lab.questions if not q.question.answerable]
    covered: list[LabQuestion] = []
    for kind in sorted({q.kind for q in lab.questions if q.question.answerable}):
        pool = [q for q in lab.questions if q.kind == kind and q.question.answerable]
        covered += rng.sample(pool, min(per_kind, len(pool)))
    rng.shuffle(covered)
    mixed = [q for pair in zip(uncovered, covered, strict=False) for q in pair]
    longer = uncovered if len(uncovered) > len(covered) else covered
    return mixed + longer[len(mixed) // 2 :]


def sources(
    lab: Lab, q: LabQuestion, translated: dict[str, str]
) -> tuple[list[int], str, str | None]:
    """Fused chunk indices (recommended recipe), and the text/language the evidence is read in."""
    text, language = q.question.question, None
    lists = [lab.dense(q)[:POOL], lab.bm25(q, STEM)[:POOL]]
    base = [d for d, _ in rrf(lists, (1.0, LEXICAL_WEIGHT))]
    if q.question.id not in translated:
        return base, text, language
    text, language = translated[q.question.id], needs_translation(lab, q)[0]
    other = [d for d, _ in rrf([lab.bm25(q, STEM, text, language)[:POOL]])]
    return [d for d, _ in rrf([base[:POOL], other[:POOL]])], text, language


def chunk(lab: Lab, q: LabQuestion, i: int, distance: float) -> NodeWithScore:
    node = lab.courses[q.question.course_id].docs[i].node(1.0 - distance)
    note(node, VECTOR_DISTANCE, distance)
    return node


def save(path: Path, done: dict[str, str]) -> None:
    path.write_text(json.dumps(done, ensure_ascii=False, indent=1), encoding="utf-8")


async def answer_all(
    lab: Lab,
    questions: Sequence[LabQuestion],
    path: Path,
    done: dict[str, str],
    translated: dict[str, str],
) -> dict[str, str]:
    settings = get_settings(openai_max_tokens=300)
    rule = RefusalRule(
        settings.refusal_max_distance, settings.refusal_lexical_distance,
        settings.refusal_min_coverage, settings.refusal_max_unknown,
    )  # fmt: skip
    async with httpx.AsyncClient() as http:
        llm = build_llm(settings, settings.model_comprehensive, http)
        for n, q in enumerate(questions, 1):
            if q.question.id in done:
                continue
            ranked, text, language = sources(lab, q, translated)
            course = lab.courses[q.question.course_id]
            sims = course.vectors[ranked[:5]] @ lab.qvec[q.question.id]
            chunks = [
                chunk(lab, q, i, 1.0 - float(s)) for i, s in zip(ranked[:5], sims, strict=True)
            ]
            index = lab.lexical_index(q.question.course_id, Stemming(settings.rag_lexical_stemming))
            dense_d = course.vectors[lab.dense(q)[:5]] @ lab.qvec[q.question.id]
            evidence = gather_evidence(
                text,
                [1.0 - float(s) for s in dense_d],
                [c.node_id for c in chunks],
                index,
                language,
            )
            if decide(rule, evidence).refuse:
                done[q.question.id] = "<gate>"
            else:
                used = PromptBudget(max_chars=settings.context_chars).postprocess_nodes(chunks)
                lang = detect_language(q.question.question)
                messages = answer_messages(q.question.question, used, lang, settings.context_chars)
                started = time.perf_counter()
                reply, _ = await complete(llm, messages, 600.0)
                done[q.question.id] = json.dumps(
                    {
                        "answer": reply,
                        "sources": [c.node.get_content() for c in used],
                        "language": lang,
                    }
                )
                print(f"{n}/{len(questions)} {time.perf_counter() - started:.0f}s")
            await asyncio.to_thread(save, path, done)
    return done


def verdict(raw: str, checker: GroundingChecker, min_share: float = 1.0) -> str:
    """Who decided: ``gate``, ``model`` (its refusal sentence), ``grounding`` (fewer than
    ``min_share`` of the answer's sentences supported), or ``answered``."""
    if raw == "<gate>":
        return "gate"
    record = json.loads(raw)
    if is_refusal(record["answer"]):
        return "model"
    report = checker.check(record["answer"], record["sources"], record["language"])
    if min_share < 0:  # the "remove" policy: unsupported sentences dropped
        return "answered" if report.kept_answer() is not None else "grounding"
    supported = report.grounded if min_share >= 1.0 else report.supported_share >= min_share
    return "answered" if supported else "grounding"


def sweep(questions: Sequence[LabQuestion], done: dict[str, str], stemming: Stemming) -> None:
    """Grounding thresholds on the cached answers: not-covered caught vs answerable lost."""
    rated = [q for q in questions if q.question.id in done]
    for min_support in (0.3, 0.4, 0.5):
        checker = GroundingChecker(stemming, min_support)
        for share in (1.0, 0.75, 0.5, -1.0):  # -1: the "remove" policy
            caught = lost = 0
            for q in rated:
                said = verdict(done[q.question.id], checker, share) != "answered"
                caught += said and not q.question.answerable
                lost += said and q.question.answerable
            n_nc = sum(not q.question.answerable for q in rated)
            policy = "remove" if share < 0 else f"not_covered below {share:.0%} supported"
            print(
                f"min_support {min_support}, {policy}: not covered "
                f"{caught}/{n_nc}, answerable refused {lost}/{len(rated) - n_nc}"
            )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--prefix", default="evalres")
    p.add_argument("--questions", type=Path, action="append", required=True)
    p.add_argument("--per-kind", type=int, default=6, help="answerable questions per kind")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--min-support", type=float, default=0.5)
    p.add_argument("--summary-only", action="store_true", help="score the cached answers only")
    p.add_argument("--split", default="dev", help="dev (tuning) or heldout (final report only)")
    args = p.parse_args(argv)
    lab = build_lab(args.prefix, args.questions, args.split)
    questions = sample(lab, args.per_kind, args.seed)
    path = OUT / f"answers-{get_settings().model_comprehensive}-{args.split}.json"
    done: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if not args.summary_only:
        translated = translations(lab, "glossary")  # before the event loop: it runs its own
        done = asyncio.run(answer_all(lab, questions, path, done, translated))
    stemming = Stemming(get_settings().rag_lexical_stemming)
    checker = GroundingChecker(stemming, args.min_support)
    for answerable in (False, True):
        group = [
            q for q in questions if q.question.answerable == answerable and q.question.id in done
        ]
        counts = Counter(verdict(done[q.question.id], checker) for q in group)
        label = "answerable" if answerable else "not covered"
        print(f"{label} (n={len(group)}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    sweep(questions, done, stemming)


if __name__ == "__main__":
    main()
