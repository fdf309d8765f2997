"""BM25 over one course's chunks, in memory.

Scoped to one course on purpose: inverse document frequency then says how rare a word is *in this
course*. RediSearch computes it over the whole index, so "sistem operasi", which is on every page
of the operating-systems module but rare across all courses, outweighs the words that tell its
pages apart (docs/benchmarks.md, "Lexical leg"). The index is a plain inverted list per term with
numpy arrays; a course of a few thousand chunks answers in well under a millisecond.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int32]


@dataclass(frozen=True)
class Posting:
    docs: Ints
    freqs: Floats


class BM25:
    """Okapi BM25 (Lucene's IDF, never negative) over pre-analysed documents."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self.size = len(documents)
        lengths = np.array([len(d) for d in documents], dtype=np.float32)
        mean = float(lengths.mean()) if self.size else 1.0
        self._norm = (k1 * (1.0 - b + b * lengths / (mean or 1.0))).astype(np.float32)
        rows: dict[str, tuple[list[int], list[int]]] = {}
        self._sets: list[frozenset[str]] = []
        for i, doc in enumerate(documents):
            counts = Counter(doc)
            self._sets.append(frozenset(counts))
            for term, tf in counts.items():
                ids, tfs = rows.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self._postings = {
            t: Posting(np.array(ids, dtype=np.int32), np.array(tfs, dtype=np.float32))
            for t, (ids, tfs) in rows.items()
        }

    def idf(self, term: str) -> float:
        posting = self._postings.get(term)
        df = 0 if posting is None else len(posting.docs)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, terms: Sequence[str]) -> Floats:
        """The BM25 score of every document for the (distinct) query terms."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in dict.fromkeys(terms):
            posting = self._postings.get(term)
            if posting is None:
                continue
            tf = posting.freqs
            gain = self.idf(term) * tf * (self.k1 + 1.0) / (tf + self._norm[posting.docs])
            np.add.at(out, posting.docs, gain.astype(np.float32))
        return out

    def top(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best documents with a positive score, best first (ties: lower index)."""
        scores = self.scores(terms)
        hits = np.flatnonzero(scores > 0)
        if len(hits) == 0:
            return []
        order = hits[np.lexsort((hits, -scores[hits]))][:k]
        return [(int(i), float(scores[i])) for i in order]

    def coverage(self, terms: Sequence[str], doc: int) -> float:
        """Share of the query's IDF mass whose terms occur in document ``doc``."""
        distinct = list(dict.fromkeys(terms))
        if not distinct:
            return 0.0
        weights = [self.idf(t) for t in distinct]
        present = sum(w for t, w in zip(distinct, weights, strict=True) if t in self._sets[doc])
        return present / (sum(weights) or 1.0)

    def known(self, term: str) -> bool:
        return term in self._postings
