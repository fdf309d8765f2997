"""The two decisions of a turn about "is this covered?": before the LLM and after it.

* :class:`RefusalGate` looks at the retrieved chunks (distance of the closest one, and optionally
  whether the question's words occur in them) and answers "not covered" with no LLM call when the
  rule of ``app.rag.refusal`` says so.
* :class:`GroundingCheck` reads the finished answer against the chunks it cites
  (``app.rag.grounding``). The answer has already streamed to the student, so the verdict travels
  in the final ``chat_response``: ``response`` carries the checked text, ``metadata.revised`` says
  it differs from the streamed chunks, ``metadata.grounding_removed`` lists the sentences taken
  out, and an answer the sources do not carry becomes ``not_covered`` (no sources, never cached).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from llama_index.core.schema import NodeWithScore, QueryBundle

from app.rag.answer import Answer
from app.rag.crosslingual import Translation
from app.rag.grounding import GroundingChecker
from app.rag.lexical_index import LexicalIndexCache
from app.rag.nodes import text_of
from app.rag.refusal import RefusalRule, Verdict, decide, evidence_for_nodes
from app.rag.scope import CourseScope
from app.services.prompt import not_covered_message

GroundingMode = Literal["off", "not_covered", "remove"]


class RefusalGate:
    """ "Not covered" decided on the retrieved list, before any LLM call.

    The lexical evidence (coverage, unknown words) is read from the course's BM25 index when it
    is built; the question is judged in the material's language (its translation, when the turn
    translated it).
    """

    def __init__(self, rule: RefusalRule, lexical: LexicalIndexCache | None = None) -> None:
        self._rule = rule
        self._lexical = lexical

    async def verdict(
        self,
        query: QueryBundle,
        nodes: Sequence[NodeWithScore],
        scope: CourseScope,
        translation: Translation | None = None,
    ) -> Verdict:
        index = None
        if self._lexical is not None and scope.course_id is not None and self._rule.lexical:
            index = await self._lexical.ready(
                scope.course_id, version=scope.versions.get(scope.course_id)
            )
        text, language = query.query_str, None
        if translation is not None:
            text, language = translation.text, translation.target
        return decide(self._rule, evidence_for_nodes(QueryBundle(text), nodes, index, language))


class GroundingCheck:
    """An ``AnswerCheck``: the answer against its cited chunks, per ``RAG_GROUNDING``.

    ``not_covered``: any unsupported sentence makes the answer "not covered". ``remove``: the
    unsupported sentences are taken out of the text; when fewer than half of the sentences are
    supported, or fewer than three words remain, the answer is "not covered".
    """

    # a guided answer is hints and questions for the student, not claims about the material
    claims_only = True

    def __init__(self, checker: GroundingChecker, mode: GroundingMode) -> None:
        self._checker = checker
        self._mode = mode

    async def check(self, query: QueryBundle, answer: Answer, language: str) -> Answer:
        if self._mode == "off" or answer.source != "rag" or not answer.nodes:
            return answer
        report = self._checker.check(answer.text, [text_of(n) for n in answer.nodes], language)
        unsupported = [s.text for s in report.unsupported]
        if not unsupported:
            return answer
        kept = None if self._mode == "not_covered" else report.kept_answer()
        if kept is None:
            return replace(
                answer,
                text=not_covered_message(language),
                source="not_covered",
                nodes=(),
                used=0,
                not_covered_reason="grounding",
                removed=tuple(unsupported),
                revised=True,
            )
        return replace(
            answer, text=strip_sentences(answer.text, unsupported), removed=tuple(unsupported),
            revised=True,
        )  # fmt: skip


def strip_sentences(text: str, sentences: Sequence[str]) -> str:
    """``text`` without ``sentences``; its line breaks (lists, paragraphs) kept."""
    for sentence in sentences:
        text = text.replace(sentence, "", 1)
    out: list[str] = []
    for raw in text.splitlines():
        line = re.sub(r"[ \t]{2,}", " ", raw).rstrip()
        if re.fullmatch(r"\s*(?:[-*•]|\d+[.)])", line):
            continue  # a list mark whose item was removed
        if line.strip() or (out and out[-1]):
            out.append(line if line.strip() else "")
    return "\n".join(out).strip()
