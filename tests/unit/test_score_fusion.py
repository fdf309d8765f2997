"""Score fusion of one query's legs: z-scores per list, weighted, added; absent = the list's floor."""

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


def test_a_chunk_missing_from_a_list_gets_that_lists_lowest_z() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    lexical = [("b", 9.0), ("d", 3.0)]
    fused = zscore_fuse([ScoredList(1.0, dense), ScoredList(2.0, lexical)])
    dz = dict(zip("abc", zscores([0.9, 0.8, 0.7]), strict=True))
    lz = dict(zip("bd", zscores([9.0, 3.0]), strict=True))
    assert fused["a"] == pytest.approx(dz["a"] + 2.0 * lz["d"])  # lexical floor
    assert fused["d"] == pytest.approx(dz["c"] + 2.0 * lz["d"])  # dense floor
    assert fused["b"] == pytest.approx(dz["b"] + 2.0 * lz["b"])
    assert list(fused) == ["a", "b", "c", "d"]  # first-seen order
    assert ranked(fused)[0] == "b"


def test_empty_lists_are_ignored_and_weights_scale_a_list() -> None:
    dense = [("a", 0.9), ("b", 0.7)]
    assert ranked(zscore_fuse([ScoredList(1.0, dense), ScoredList(1.25, [])])) == ["a", "b"]
    lexical = [("b", 5.0), ("a", 1.0)]
    equal = zscore_fuse([ScoredList(1.0, dense), ScoredList(1.0, lexical)])
    assert equal["a"] == pytest.approx(equal["b"])
    assert ranked(zscore_fuse([ScoredList(1.0, dense), ScoredList(1.5, lexical)]))[0] == "b"
    assert ranked(zscore_fuse([ScoredList(1.0, dense), ScoredList(0.5, lexical)]))[0] == "a"
    assert zscore_fuse([]) == {}
