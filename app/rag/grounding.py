"""Is the finished answer supported by the chunks it cites?

A small model asked something its sources do not hold often answers from general knowledge and
still cites a page (FACTS.md: 8 of 15 such questions). This check reads the answer sentence by
sentence and asks, for each, whether its content words and its numbers occur in the cited
chunks. Words are compared after the lexical leg's analysis (stop words dropped, stems), so
"mengelola" in the answer matches "pengelolaan" in the module. A sentence is unsupported when
less than ``min_support`` of its content words occur in the sources, or when it states a number
the sources never state. Sentences too short to judge (fewer than ``min_words`` content words)
pass: "Berikut penjelasannya:" is not a claim.

Word overlap only works within one language. When the answer's language differs from the
sources' (an Indonesian answer about English pages), the check reports ``judged=False`` rather
than guess; numbers are still compared, since digits do not translate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.rag.analysis import Analyzer, Stemming
from app.services.lexical import detect_language

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CITATION = re.compile(r"\((?:hal|hlm|halaman|p|pp|page)\.?\s*[\w.,\- ]+\)", re.IGNORECASE)
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    support: float  # share of content words found in the sources (1.0 when too short to judge)
    missing_numbers: tuple[str, ...]
    supported: bool


@dataclass(frozen=True)
class GroundingReport:
    sentences: list[SentenceCheck] = field(default_factory=list)
    judged: bool = True  # False: answer and sources in different languages (words not compared)

    @property
    def unsupported(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if not s.supported]

    @property
    def supported_share(self) -> float:
        if not self.sentences:
            return 1.0
        return sum(s.supported for s in self.sentences) / len(self.sentences)

    @property
    def grounded(self) -> bool:
        """No unsupported sentence, and at least one sentence was checked."""
        return bool(self.sentences) and not self.unsupported

    def without_unsupported(self) -> str:
        """The answer with unsupported sentences removed (for the "remove the claim" policy)."""
        return " ".join(s.text for s in self.sentences if s.supported).strip()

    def kept_answer(self, min_words: int = 3, min_share: float = 0.5) -> str | None:
        """The "remove" policy's answer: the supported sentences, or None (answer "not covered")
        when fewer than ``min_share`` of the sentences are supported (the answer is mostly the
        model's own) or fewer than ``min_words`` words of them remain."""
        if self.supported_share < min_share:
            return None
        kept = self.without_unsupported()
        return kept if len(kept.split()) >= min_words else None


_KEEP_DOT = "\u2024"  # stands in for the dot of "hal. 12" while sentences are split


def split_sentences(answer: str) -> list[str]:
    """Sentences and list items; the dot of a page citation ("(hal. 12)") ends nothing."""
    protected = _CITATION.sub(lambda m: m.group(0).replace(".", _KEEP_DOT), answer)
    parts = (p.strip().replace(_KEEP_DOT, ".") for p in _SENTENCE.split(protected))
    return [p for p in parts if p]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


class GroundingChecker:
    def __init__(
        self,
        stemming: Stemming = Stemming.SNOWBALL,
        min_support: float = 0.5,
        min_words: int = 3,
    ) -> None:
        self._analyzer = Analyzer(stemming)
        self._min_support = min_support
        self._min_words = min_words

    def check(
        self, answer: str, sources: Sequence[str], answer_language: str | None = None
    ) -> GroundingReport:
        """Check ``answer`` against the ``sources`` it cites; ``answer_language`` is the language
        the answer was asked for (detected from the text when not given)."""
        source_text = "\n".join(sources)
        source_language = detect_language(source_text, default="id")
        answer_language = answer_language or detect_language(answer, default=source_language)
        judged = answer_language == source_language
        vocabulary = set(self._analyzer.terms(source_text, source_language))
        numbers = _numbers(source_text)
        checks: list[SentenceCheck] = []
        for sentence in split_sentences(answer):
            claim = _LIST_MARK.sub("", _CITATION.sub(" ", sentence))
            missing = tuple(sorted(n for n in _numbers(claim) - numbers if len(n) > 1))
            terms = set(self._analyzer.terms(claim, answer_language))
            if not judged or len(terms) < self._min_words:
                support = 1.0
            else:
                support = len(terms & vocabulary) / len(terms)
            ok = support >= self._min_support and not missing
            checks.append(SentenceCheck(sentence, round(support, 3), missing, ok))
        return GroundingReport(checks, judged)
