"""``python -m evaluation.refusal_lab``: fit the "not covered before the LLM" rule on dev questions.

For every question (answerable and not covered) the server's own evidence is gathered
(``app.rag.refusal.gather_evidence``: closest-chunk distance, coverage of the question's words in
the best fused chunks, share of its words unknown to the course), with the question put into the
material's language first when it is asked in another one (glossary or cached LLM translation, as
the cross-lingual leg does). Then a grid of ``RefusalRule``s is scored: refusal recall on
not-covered questions against false refusals of answerable ones. The chosen rule is the one with
the highest recall whose false refusals stay within the budget (default 5 %); ties go to fewer
false refusals, then to the more lenient thresholds.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from app.rag.analysis import Stemming
from app.rag.fusion import rrf
from app.rag.refusal import Evidence, RefusalRule, gather_evidence
from evaluation.lab import OUT, POOL, Lab, build_lab
from evaluation.lab_crosslingual import needs_translation, translations
from evaluation.lab_data import LabQuestion, default_question_files

STEMMING = Stemming.SASTRAWI  # the lexical leg's setting (RAG_LEXICAL_STEMMING)


@dataclass(frozen=True)
class Sample:
    id: str
    kind: str
    answerable: bool
    evidence: Evidence


@dataclass(frozen=True)
class RuleScore:
    rule: RefusalRule
    recall: float  # not-covered questions refused
    false_refusals: float  # answerable questions refused
    refused_nc: int
    n_nc: int
    refused_ans: int
    n_ans: int


def evidence(lab: Lab, q: LabQuestion, translated: dict[str, str]) -> Evidence:
    course = lab.courses[q.question.course_id]
    index = lab.lexical_index(q.question.course_id, STEMMING)
    dense = lab.dense(q)
    text, language = q.question.question, None
    if q.question.id in translated:
        text, language = translated[q.question.id], needs_translation(lab, q)[0]
    lexical = lab.bm25(q, STEMMING, text, language)
    fused = [doc for doc, _ in rrf([dense[:POOL], lexical[:POOL]])]
    sims = course.vectors[dense[:5]] @ lab.qvec[q.question.id]
    distances = [1.0 - float(s) for s in sims]
    ids = [course.docs[i].node_id for i in fused[:5]]
    return gather_evidence(text, distances, ids, index, language)


def samples(lab: Lab, method: str) -> list[Sample]:
    translated = translations(lab, method) if method != "none" else {}
    return [
        Sample(q.question.id, q.kind, q.question.answerable, evidence(lab, q, translated))
        for q in lab.questions
    ]


def grid() -> list[RefusalRule]:
    distances = [round(0.14 + 0.005 * i, 3) for i in range(23)] + [2.0]
    lexical = [0.0, 0.08, 0.09, 0.10, 0.11, 0.12, 0.13]
    coverage = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    unknown = [0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.01]
    return [RefusalRule(*v) for v in itertools.product(distances, lexical, coverage, unknown)]


def evaluate(rule: RefusalRule, data: Sequence[Sample]) -> RuleScore:
    nc = [s for s in data if not s.answerable]
    ans = [s for s in data if s.answerable]
    r_nc = sum(rule.refuses(s.evidence) for s in nc)
    r_ans = sum(rule.refuses(s.evidence) for s in ans)
    return RuleScore(
        rule, r_nc / (len(nc) or 1), r_ans / (len(ans) or 1), r_nc, len(nc), r_ans, len(ans)
    )


def choose(data: Sequence[Sample], budget: float) -> RuleScore:
    scored = [evaluate(rule, data) for rule in grid()]
    allowed = [s for s in scored if s.false_refusals <= budget]
    return max(
        allowed,
        key=lambda s: (
            s.recall,
            -s.false_refusals,
            s.rule.max_distance,
            s.rule.lexical_distance,
            -s.rule.min_coverage,
            s.rule.max_unknown,
        ),
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--prefix", default="evalres")
    p.add_argument("--questions", type=Path, action="append")
    p.add_argument("--split", default="dev")
    p.add_argument("--translation", choices=["none", "glossary", "llm"], default="glossary")
    p.add_argument("--budget", type=float, default=0.05, help="max share of false refusals")
    args = p.parse_args(argv)
    split = None if args.split == "all" else args.split
    lab = build_lab(args.prefix, args.questions or default_question_files(), split)
    data = samples(lab, args.translation)
    best = choose(data, args.budget)
    distance_only = max(
        (evaluate(RefusalRule(d, 2.0, 0.0, 1.01), data) for d in (r.max_distance for r in grid())),
        key=lambda s: (s.false_refusals <= args.budget, s.recall, -s.false_refusals),
    )
    print(f"questions: {best.n_ans} answerable, {best.n_nc} not covered ({args.split})")
    for name, s in (("distance only", distance_only), ("fitted rule", best)):
        print(
            f"{name}: {s.rule} -> refuses {s.refused_nc}/{s.n_nc} not covered "
            f"({s.recall:.0%}), {s.refused_ans}/{s.n_ans} answerable ({s.false_refusals:.1%})"
        )
    for sample in data:
        mark = "REFUSE" if best.rule.refuses(sample.evidence) else "answer"
        if sample.answerable == (mark == "REFUSE"):
            print(f"  {mark} {sample.id} {sample.kind} {sample.evidence.as_dict()}")
    OUT.mkdir(parents=True, exist_ok=True)
    out = {
        "rule": asdict(best.rule),
        "recall": best.recall,
        "false_refusals": best.false_refusals,
        "samples": [
            {"id": s.id, "kind": s.kind, "answerable": s.answerable, **s.evidence.as_dict()}
            for s in data
        ],
    }
    (OUT / f"refusal-{args.translation}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
