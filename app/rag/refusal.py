"""Decide "the material does not cover this" before any LLM call, from evidence we can explain.

Distance alone cannot: with e5 the closest chunk of an uncovered question sits among the right
chunks of covered ones (FACTS.md). What separates them better is whether the question's own key
words occur in the course at all: "bagaimana cara kerja paging?" asked in an operating-systems
course whose module never says "paging" has nothing to answer from, however close the vectors
are. So the gate looks at three numbers:

* ``distance``: cosine distance of the closest chunk (dense leg);
* ``coverage``: IDF-weighted share of the question's content words found in the best chunks
  (in the material's language, i.e. after translation when the question is in another one);
* ``unknown``: IDF-weighted share of those words that occur nowhere in the course.

and refuses when a rule fitted on labelled questions (``evaluation/refusal_lab.py``) says so. The
rule is a few thresholds a person can read and set (``REFUSAL_*`` settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llama_index.core.schema import NodeWithScore, QueryBundle

from app.rag.lexical_index import CourseLexicalIndex


@dataclass(frozen=True)
class Evidence:
    distance: float  # closest chunk's cosine distance (0 = same direction)
    coverage: float  # best IDF-weighted share of question words found in one of the top chunks
    unknown: float  # IDF-weighted share of question words that occur nowhere in the course
    terms: int  # content words in the question (0: no lexical evidence either way)

    def as_dict(self) -> dict[str, float]:
        return {
            "distance": round(self.distance, 4),
            "coverage": round(self.coverage, 3),
            "unknown": round(self.unknown, 3),
            "terms": self.terms,
        }


@dataclass(frozen=True)
class RefusalRule:
    """Refuse when the closest chunk is farther than ``max_distance``, or when it is farther than
    ``lexical_distance`` AND the question's words are missing (``coverage`` below
    ``min_coverage`` or ``unknown`` at least ``max_unknown``)."""

    max_distance: float
    lexical_distance: float
    min_coverage: float
    max_unknown: float

    @property
    def lexical(self) -> bool:
        """Whether the lexical test can refuse anything (off: the evidence needs no BM25 index)."""
        return self.lexical_distance < self.max_distance and (
            self.min_coverage > 0.0 or self.max_unknown <= 1.0
        )

    def refuses(self, e: Evidence) -> bool:
        if e.distance > self.max_distance:
            return True
        if e.terms == 0 or e.distance <= self.lexical_distance:
            return False
        return e.coverage < self.min_coverage or e.unknown >= self.max_unknown

    def reason(self, e: Evidence) -> str:
        if e.distance > self.max_distance:
            return f"closest chunk at distance {e.distance:.3f} > {self.max_distance}"
        return (
            f"question words missing from the material (coverage {e.coverage:.2f}, "
            f"unknown {e.unknown:.2f}) and closest chunk at {e.distance:.3f}"
        )


@dataclass(frozen=True)
class Verdict:
    refuse: bool
    reason: str
    evidence: Evidence


def gather_evidence(
    question: str,
    distances: Sequence[float],
    node_ids: Sequence[str],
    index: CourseLexicalIndex | None,
    language: str | None = None,
    top: int = 3,
) -> Evidence:
    """Evidence for ``question`` (in the material's language) against its ranked chunks."""
    distance = min(distances) if distances else 2.0
    if index is None:
        return Evidence(distance, 0.0, 0.0, 0)
    terms = index.query_terms(question, language)
    if not terms:
        return Evidence(distance, 0.0, 0.0, 0)
    bm25 = index.bm25
    weights = [bm25.idf(t) for t in terms]
    total = sum(weights) or 1.0
    unknown = sum(w for t, w in zip(terms, weights, strict=True) if not bm25.known(t)) / total
    coverage = max(
        (index.coverage(question, node_id, language) for node_id in node_ids[:top]), default=0.0
    )
    return Evidence(distance, coverage, unknown, len(terms))


def decide(rule: RefusalRule, evidence: Evidence) -> Verdict:
    refuse = rule.refuses(evidence)
    return Verdict(refuse, rule.reason(evidence) if refuse else "", evidence)


def node_distance(node: NodeWithScore) -> float:
    """Cosine distance carried by a node: ``metadata["vector_distance"]`` when the retriever set
    it, else ``1 - score`` for a dense similarity score."""
    value = node.node.metadata.get("vector_distance")
    if value is not None:
        return float(value)
    return 1.0 - float(node.score or 0.0)


def evidence_for_nodes(
    query: QueryBundle,
    nodes: Sequence[NodeWithScore],
    index: CourseLexicalIndex | None,
    language: str | None = None,
) -> Evidence:
    return gather_evidence(
        query.query_str,
        [node_distance(n) for n in nodes],
        [n.node.node_id for n in nodes],
        index,
        language,
    )
