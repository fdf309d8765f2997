"""Words of course text and questions for lexical search, per language.

The lexical leg, the refusal gate and the grounding check all compare the words of a question (or
an answer) with the words of a chunk, so they share one analyzer: lower case, hyphenated words
split (``proses-proses`` → ``proses``), Indonesian and English function words dropped, and
optionally each word reduced to its stem in its language. Stemming matters more for Indonesian
than for English: students write ``kelola`` or ``mengelola`` where the module says
``pengelolaan``. Two Indonesian stemmers are offered: Snowball's (fast, rule-only; it leaves
``pengelolaan`` as ``elola``) and Sastrawi's (dictionary-based, ``kelola``; slower, so memoized).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import lru_cache

from app.services.lexical import ENGLISH, INDONESIAN, detect_language, words

STOP_WORDS = INDONESIAN | ENGLISH
# Chatty words students add that carry no topic ("kasih contohnya dong", "tolong bantu ya kak").
CHATTER = frozenset(
    """
    aja banget bantu bantuin coba dijelaskan gitu jelasin kasih kayak mohon nih sebenarnya
    sebenernya singkat tau tahu udah ngerti paham bisakah tolong hi halo hello pls thanks thank
    terima kasih
    """.split()
)


class Stemming(StrEnum):
    NONE = "none"
    SNOWBALL = "snowball"  # Snowball for both languages
    SASTRAWI = "sastrawi"  # Sastrawi for Indonesian, Snowball (Porter2) for English


Stemmer = Callable[[str], str]


def _identity(word: str) -> str:
    return word


@lru_cache(maxsize=8)
def _snowball(language: str) -> Stemmer:
    import snowballstemmer  # type: ignore[import-untyped]

    stemmer = snowballstemmer.stemmer("indonesian" if language == "id" else "english")
    return lru_cache(maxsize=200_000)(stemmer.stemWord)


@lru_cache(maxsize=1)
def _sastrawi() -> Stemmer:
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory  # type: ignore[import-untyped]

    stemmer = StemmerFactory().create_stemmer()
    return lru_cache(maxsize=200_000)(stemmer.stem)


def stemmer_for(stemming: Stemming, language: str) -> Stemmer:
    if stemming is Stemming.NONE:
        return _identity
    if stemming is Stemming.SASTRAWI and language == "id":
        return _sastrawi()
    return _snowball(language)


class Analyzer:
    """Text → index terms for one stemming choice (stateless apart from memoized stemmers)."""

    def __init__(self, stemming: Stemming = Stemming.NONE, min_length: int = 2) -> None:
        self.stemming = stemming
        self._min = min_length

    def _pieces(self, text: str) -> Iterable[str]:
        for word in words(text):
            for piece in word.split("-"):
                part = piece.strip("'")
                if len(part) >= self._min and part not in STOP_WORDS:
                    yield part

    def terms(self, text: str, language: str) -> list[str]:
        """Every content word of ``text`` (repeats kept: term frequency counts)."""
        stem = stemmer_for(self.stemming, language)
        return [stem(p) for p in self._pieces(text)]

    def query_terms(self, text: str, language: str | None = None, limit: int = 16) -> list[str]:
        """The distinct content words of a question, in order, without chatter."""
        stem = stemmer_for(self.stemming, language or detect_language(text))
        seen: dict[str, None] = {}
        for piece in self._pieces(text):
            if piece not in CHATTER:
                seen.setdefault(stem(piece), None)
        return list(seen)[:limit]


def dominant_language(texts: Iterable[str], default: str = "id") -> str:
    """The language most of ``texts`` are written in (by function words)."""
    counts = {"id": 0, "en": 0}
    for text in texts:
        lang = detect_language(text, default="")
        if lang in counts:
            counts[lang] += 1
    if counts["id"] == counts["en"]:
        return default
    return max(counts, key=lambda k: counts[k])
