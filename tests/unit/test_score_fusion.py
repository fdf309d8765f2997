"""Score fusion of one query's legs: z-scores over all listed chunks, weighted, added; a chunk a
list does not hold gets the list's floor (0 for a short list, else its lowest score)."""

from __future__ import annotations

import pytest

from app.rag.fusion import rrf
from app.rag.score_fusion import ScoredList, zscore_fuse, zscores


def ranked(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda node_id: scores[node_id], reverse=True)


def test_zscores_centre_and_scale_a_list() -> None:
    z = zscores([3.0, 1.0, 2.0])
    assert sum(z) == pytest.approx(0.0)
    assert sum(v * v for v in z) / 3 == pytest.approx(1.0)
    assert z[0] > z[2] > z[1]
    assert zscores([0.8, 0.8]) == [0.0, 0.0]  # no spread: the list says nothing


def test_margins_count_where_reciprocal_ranks_see_only_places() -> None:
    # both legs hold the same ten chunks; dense puts "a" far ahead of the rest, BM25 puts "b"
    # just ahead of "a" in an evenly spaced list
    others = [f"c{i}" for i in range(8)]
    dense = [("a", 0.95), ("b", 0.80)] + [(c, 0.79 - 0.002 * i) for i, c in enumerate(others)]
    lexical = [("b", 10.0), ("a", 9.0)] + [(c, 8.0 - i) for i, c in enumerate(others)]
    fused = zscore_fuse([ScoredList(1.0, dense), ScoredList(1.25, lexical)])
    assert ranked(fused)[:2] == ["a", "b"]
    by_rank = rrf([[i for i, _ in dense], [i for i, _ in lexical]], [1.0, 1.25])
    assert [i for i, _ in by_rank[:2]] == ["b", "a"]  # the lexical weight decides the tie


def test_a_chunk_missing_from_a_full_list_gets_its_lowest_score() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    lexical = [("b", 9.0), ("d", 3.0)]  # as long as asked for: the rest scored lower
    fused = zscore_fuse([ScoredList(1.0, dense), ScoredList(2.0, lexical)])
    assert list(fused) == ["a", "b", "c", "d"]  # first-seen order
    dz = dict(zip("abcd", zscores([0.9, 0.8, 0.7, 0.7]), strict=True))  # d: dense's lowest
    lz = dict(zip("abcd", zscores([3.0, 9.0, 3.0, 3.0]), strict=True))  # a, c: lexical's lowest
    for node_id in "abcd":
        assert fused[node_id] == pytest.approx(dz[node_id] + 2.0 * lz[node_id])
    assert ranked(fused)[0] == "b"


def test_a_rare_term_matched_once_outweighs_the_dense_first_place() -> None:
    # BM25 found the word on one chunk only (a short list: every other chunk scores 0 there);
    # dense ranks that chunk tenth of twenty
    dense = [(f"c{i}", 0.85 - 0.003 * i) for i in range(20)]
    lexical = [("c9", 4.2)]
    fused = zscore_fuse([ScoredList(1.0, dense), ScoredList(1.25, lexical, floor=0.0)])
    assert ranked(fused)[0] == "c9"
    # with its own score as the floor, a one-hit list would say nothing at all
    flat = zscore_fuse([ScoredList(1.0, dense), ScoredList(1.25, lexical)])
    assert ranked(flat)[0] == "c0"


def test_empty_lists_are_ignored_and_weights_scale_a_list() -> None:
    dense = [("a", 0.9), ("b", 0.7)]
    assert ranked(zscore_fuse([ScoredList(1.0, dense), ScoredList(1.25, [])])) == ["a", "b"]
    lexical = [("b", 5.0), ("a", 1.0)]
    equal = zscore_fuse([ScoredList(1.0, dense), ScoredList(1.0, lexical)])
    assert equal["a"] == pytest.approx(equal["b"])
    assert ranked(zscore_fuse([ScoredList(1.0, dense), ScoredList(1.5, lexical)]))[0] == "b"
    assert ranked(zscore_fuse([ScoredList(1.0, dense), ScoredList(0.5, lexical)]))[0] == "a"
    assert zscore_fuse([]) == {}
