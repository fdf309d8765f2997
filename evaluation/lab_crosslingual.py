"""Cross-lingual recipes for the retrieval lab: which questions get translated, the translations
(glossary or LLM, cached as JSON under ``evaluation/out/lab``), and the fusion variants."""

from __future__ import annotations

import asyncio
import functools
import json

import httpx
import numpy as np

from app.core.config import Settings, get_settings
from app.core.embeddings import build_embedding
from app.rag.analysis import Stemming
from app.rag.crosslingual import (
    GlossaryTranslator,
    LLMTranslator,
    Translator,
    question_language,
    targets,
)
from app.rag.fusion import rrf
from app.rag.glossary import Glossary
from app.services.lexical import normalize_question
from app.services.llm import build_llm
from evaluation.lab import LEXICAL_WEIGHT, OUT, POOL, STEM, Lab, Ranker, fused
from evaluation.lab_data import LabQuestion, Matrix


def needs_translation(lab: Lab, q: LabQuestion) -> list[str]:
    """Target languages for ``q``: what the server's cross-lingual retriever would pick."""
    index = lab.lexical_index(q.question.course_id, Stemming.NONE)
    shares = {lang: index.language_share(lang) for lang in ("id", "en")}
    return targets(question_language(q.question.question, shares), shares)


def translations(lab: Lab, method: str) -> dict[str, str]:
    """Question id -> translated text (for questions that need one), cached per method."""
    path = OUT / f"translations-{method}.json"
    cache: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    todo = [q for q in lab.questions if needs_translation(lab, q)]
    missing = [q for q in todo if q.question.question not in cache]

    async def run() -> None:
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
