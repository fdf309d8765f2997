"""How many of a question's content words already sit on its answer page.

A question that repeats the page's words is easy for any retriever; a paraphrase is not. The
share reported here is deliberately generous to the page, so a low number is a real paraphrase:

* the question's words are case-folded (NFKC); function words of Indonesian (formal and chat
  style: "sih", "gimana", "nggak") and English, and tokens of digits only, are dropped;
* a word of four letters or more counts as present when it occurs anywhere in the page text
  with all whitespace removed, so affixed forms ("kirim" in "pengiriman"), words glued together
  by the PDF's text layer and plurals all count as overlap; so do its forms after the Indonesian
  nasal prefix, which replaces the first consonant ("simpan" in "menyimpan", "pakai" in
  "memakai", "tulis" in "menulis", "kirim" in "mengirim");
* a shorter word (acronyms such as "ip", "ram", "cpu") counts only as a whole token.

``overlap`` is the share of the question's distinct content words present on the page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from evaluation.pagetext import squash

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MIN_SUBSTRING = 4

INDONESIAN = frozenset(
    """
    ada adalah agar aja akan aku amat anda antara apa apaan apakah atau ataukah bagai bagaimana
    bagi bahwa banget banyak baru beberapa begini begitu belum berapa bisa bila boleh buat bukan
    cara cuma dalam dan dapat dari deh dengan di dia dong dulu gak gimana gitu guna hal hanya
    harus ia ini itu iya jadi jika juga kah kak kalau kalo kami kamu kan kapan karena kayak ke
    kenapa kita kok lagi lah lain maksud mana masih mau melalui mengapa menurut mereka misal
    misalnya nah namun nggak ngga ga nih nya oleh pada para per perlu pun saat saja sama sangat
    saya se sebagai sebenarnya sebuah secara sedang sedangkan seperti sih siapa suatu sudah
    supaya tapi tanpa tentang terhadap tersebut tetapi tidak tolong tuh udah untuk ya yaitu
    yakni yang yg sebutkan jelaskan apanya gmn gw gue aja emang emangnya nanya tau tahu bedanya
    beda
    """.split()
)
ENGLISH = frozenset(
    """
    a about after again all also am an and any are as at be because been before being between both
    but by can could did do does doing done for from get gets got had has have having how i if in
    into is it its just me more most my no not of on only or other our out own please same she
    should so some such than that the their them then there these they this those through to too
    under up us very was way we were what when where which while who whom why will with would you
    your yours one ones thing things something anything really actually exactly kind
    """.split()
)
STOPWORDS = INDONESIAN | ENGLISH


def content_words(question: str) -> list[str]:
    """The distinct content words of a question, in order."""
    text = unicodedata.normalize("NFKC", question).casefold()
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(text):
        if len(token) < 2 or token.isdigit() or token in STOPWORDS:
            continue
        seen.setdefault(token, None)
    return list(seen)


def page_tokens(page_text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(unicodedata.normalize("NFKC", page_text).casefold()))


NASAL = {"s": "ny", "p": "m", "t": "n", "k": "ng"}  # meN- + simpan -> menyimpan


def forms(word: str) -> list[str]:
    """The word and, for Indonesian, its stem as it appears after a nasal prefix."""
    nasal = NASAL.get(word[0])
    return [word, nasal + word[1:]] if nasal else [word]


def present(word: str, tokens: frozenset[str], squashed: str) -> bool:
    if len(word) >= MIN_SUBSTRING:
        return any(form in squashed for form in forms(word))
    return word in tokens


def overlap(question: str, page_text: str) -> float | None:
    """Share of the question's content words found on the page; None when it has none."""
    words = content_words(question)
    if not words:
        return None
    tokens, squashed = page_tokens(page_text), squash(page_text)
    return sum(present(w, tokens, squashed) for w in words) / len(words)


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def longest_copied_run(question: str, page_text: str) -> int:
    """Length in words of the longest run of consecutive question words found verbatim on the
    page (whitespace and punctuation ignored). A paraphrase must not lift a sentence from it."""
    words = _TOKEN.findall(unicodedata.normalize("NFKC", question).casefold())
    joined = "".join(_TOKEN.findall(unicodedata.normalize("NFKC", page_text).casefold()))
    best = 0
    for start in range(len(words)):
        for end in range(start + best + 1, len(words) + 1):
            if "".join(words[start:end]) in joined:
                best = end - start
            else:
                break
    return best
