"""``pipeline_eval --rerank llm``'s reranking step, over HTTP to the scripted OpenAI server: the
server's reranker (``rerank_factory``) reorders the head of a fused list, the tail keeps its
ranks, and each question's row carries the ranks, the call's usage and the model's picks."""

from __future__ import annotations

from pathlib import Path

import httpx
from llama_index.core.schema import NodeWithScore, TextNode

from app.services.query_parts import rerank_factory
from evaluation.dataset import Question
from evaluation.lab_data import LabQuestion
from evaluation.reranking import (
    Row,
    append_row,
    first_right,
    read_rows,
    rerank_list,
    sample,
    summarize,
)
from tests.conftest import SettingsFactory
from tests.support.scripted_openai import Reply, ScriptedOpenAI


def _fused(pages: list[int]) -> list[NodeWithScore]:
    return [
        NodeWithScore(
            node=TextNode(
                id_=f"c{i}", text=f"isi halaman {p}", metadata={"filename": "m.pdf", "page": p}
            ),
            score=1.0 / (i + 1),
        )
        for i, p in enumerate(pages)
    ]


def _question(kind: str, page: int | None, qid: str = "q1") -> LabQuestion:
    file = None if page is None else "m.pdf"
    return LabQuestion(Question(qid, "corpus", "apa itu", "c", file, page, (), "id", kind), "dev")


def _pages(nodes: list[NodeWithScore]) -> list[tuple[str, int]]:
    return [(str(n.node.metadata["filename"]), int(n.node.metadata["page"])) for n in nodes]


async def test_the_servers_reranker_reorders_the_head_and_the_tail_keeps_its_ranks(
    make_settings: SettingsFactory, scripted_llm: ScriptedOpenAI
) -> None:
    settings = make_settings(
        openai_api_key="sk-test",
        openai_api_base=scripted_llm.base_url,
        rag_rerank="llm",
        rag_rerank_candidates=3,
    )
    fused = _fused([10, 11, 12, 13, 14])
    q = _question("paraphrase", 12)
    async with httpx.AsyncClient() as http:
        make = rerank_factory(settings, http, None)
        assert make is not None
        scripted_llm.script(
            Reply.from_text("Doc: 3, Relevance: 9", prompt_tokens=412, completion_tokens=7)
        )
        done = await rerank_list(make, "apa itu", fused)
        prompt = scripted_llm.chat_requests[0]["messages"][1]["content"]
        assert "Document 3:" in prompt and "Document 4:" not in prompt  # 3 candidates only
        assert [n.node.node_id for n in done.nodes] == ["c2", "c0", "c1", "c3", "c4"]
        assert first_right(q, _pages(fused)) == 3 and first_right(q, _pages(done.nodes)) == 1
        assert (done.prompt_tokens, done.completion_tokens, done.picked) == (412, 7, 1)
        assert done.picked_ranks == [3]

        scripted_llm.script(Reply.from_text("Doc: none of them"))
        nothing = await rerank_list(make, "resep rendang", fused)
        assert nothing.picked == 0 and [n.node.node_id for n in nothing.nodes][:2] == ["c0", "c1"]

        scripted_llm.script(Reply(status=500))
        failed = await rerank_list(make, "apa itu", fused)
        assert failed.prompt_tokens is None and failed.picked is None
        assert [n.node.node_id for n in failed.nodes] == ["c0", "c1", "c2", "c3", "c4"]
    assert rerank_factory(make_settings(rag_rerank="off"), http, None) is None


def test_rows_summarise_by_kind_with_zero_picks(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [
        Row("a", "paraphrase", True, False, 3, 1, 20.0, 900, 12, False, 1, [3]),
        Row("b", "paraphrase", True, False, 1, 2, 30.0, 1000, 20, False, 2, [3, 1]),
        Row("c", "close", True, False, None, None, 25.0, 950, 3, False, 0),
        Row("d", "not_covered", False, False, None, None, 22.0, 800, 3, False, 0),
        Row("e", "not_covered", False, True, None, None),
    ]
    for row in rows:
        append_row(path, row)
    assert read_rows(path) == rows
    text = summarize(read_rows(path), 5)
    assert "| fused | 0.33 / 0.67 / 0.444 | 0.00 / 0.00 / 0.000 | 0.50 / 1.00 / 0.667 |" in text
    assert "| + LLM rerank (5) | 0.33 / 0.67 / 0.500 |" in text
    assert "reranker calls: 4 (0 failed, 0 unparsable); seconds per call median 23.5" in text
    assert "answerable: 1/3 with zero picks" in text
    assert "not covered: 1/1 with zero picks" in text and "(1 refused by the gate" in text
    assert "right chunk moved: 2 (1 up)" in text
    assert "first pick (rank: questions): 3: 2" in text


def test_a_sample_takes_whole_kinds_and_draws_the_others_with_its_seed() -> None:
    questions = [_question("paraphrase", 1, f"p{i}") for i in range(6)]
    questions += [_question("close", 1, f"c{i}") for i in range(6)]
    drawn = sample(questions, 2, ["paraphrase"], seed=7)
    assert sorted(q.question.id for q in drawn if q.kind == "paraphrase") == [
        f"p{i}" for i in range(6)
    ]
    assert sum(1 for q in drawn if q.kind == "close") == 2
    assert [q.question.id for q in drawn] == [
        q.question.id for q in sample(questions, 2, ["paraphrase"], seed=7)
    ]
    assert sample(questions, None, [], seed=7) == questions
