"""Group students' questions into topics a lecturer can read: clusters of question embeddings,
each labelled with its most distinctive words and shown through its most typical questions.

Average-linkage agglomerative clustering on cosine distance (SciPy) cut at a fixed distance: the
number of topics follows the questions instead of being guessed up front, and one odd question
does not pull a topic apart the way single linkage would. Labels are class-based TF-IDF over the
questions' content words (the same Indonesian/English stop words as full-text search), so a
topic is named by what sets it apart from the other topics, not by words every question shares.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.services.lexical import query_terms

LABEL_TERMS = 3


@dataclass(frozen=True)
class Cluster:
    members: list[int]  # indices into the input, most typical first
    keywords: list[str]

    @property
    def label(self) -> str:
        return " · ".join(self.keywords) if self.keywords else "(no distinctive words)"


def _unit_rows(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: npt.NDArray[np.float64] = matrix / norms
    return unit


def cluster_vectors(vectors: npt.NDArray[np.float32], max_distance: float) -> list[list[int]]:
    """Indices grouped into clusters (largest first); each cluster ordered by typicality."""
    count = len(vectors)
    if count == 0:
        return []
    unit = _unit_rows(vectors)
    if count == 1:
        return [[0]]
    # SciPy costs ~20 MiB per worker: imported when a lecturer first asks for topics, not at start.
    from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]

    tree = linkage(unit, method="average", metric="cosine")
    labels = fcluster(tree, t=max_distance, criterion="distance")
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    ordered = []
    for members in groups.values():
        centroid = unit[members].mean(axis=0)
        closeness = unit[members] @ centroid
        ordered.append([members[i] for i in np.argsort(-closeness, kind="stable")])
    ordered.sort(key=lambda m: (-len(m), m[0]))
    return ordered


def keywords(texts_by_cluster: Sequence[Sequence[str]], top: int = LABEL_TERMS) -> list[list[str]]:
    """The most distinctive content words of each cluster (class-based TF-IDF)."""
    counts = [Counter(t for text in texts for t in query_terms(text)) for texts in texts_by_cluster]
    clusters_with = Counter(term for c in counts for term in c)
    total = len(counts)
    out = []
    for c in counts:
        size = sum(c.values()) or 1
        scored = sorted(
            c.items(),
            key=lambda item: (
                -(item[1] / size) * math.log(1 + total / clusters_with[item[0]]),
                item[0],
            ),
        )
        out.append([term for term, n in scored[:top] if n >= 1])
    return out


def topics(
    texts: Sequence[str], vectors: npt.NDArray[np.float32], max_distance: float
) -> list[Cluster]:
    groups = cluster_vectors(vectors, max_distance)
    labels = keywords([[texts[i] for i in members] for members in groups])
    return [Cluster(members, words) for members, words in zip(groups, labels, strict=True)]
