"""The query path through the real server: a LlamaIndex postprocessor plugged in by configuration
changes what the answer cites, every stage reports its lap, and whole answers (cached or fixed)
reach the client in phrase-sized frames cut by the WebSocket layer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Tutor
from tests.support.client import Turn, ask, connect
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

QUESTION = "Apa itu manajemen infrastruktur TI?"
ANSWER = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI (hal. 1)."
REORDER = "llama_index.core.postprocessor:LongContextReorder"


async def one_turn(tutor: Tutor, question: str = QUESTION, user: str = "s1") -> Turn:
    ws, _ = await connect(tutor.url, user_id=user, course_id="course_tik_01")
    async with ws:
        turn = await ask(ws, question)
    assert turn.final["type"] == "chat_response", turn.final
    assert "".join(c["chunk"] for c in turn.chunks) == turn.final["response"]
    return turn


async def test_a_configured_llamaindex_postprocessor_reorders_the_cited_chunks(
    tutor_factory: Callable[..., Tutor],
) -> None:
    wide = {  # dense only: its sources come best cosine first, the order the reorder starts from
        "rag_distance_threshold": 2.0,
        "rag_max_context_chars": 100_000,
        "cache_enabled": False,
        "rag_lexical": "off",
    }
    plain = tutor_factory(**wide)
    plain.llm.default = Reply.from_text(ANSWER)
    ranked = (await one_turn(plain)).final["sources"]
    assert len(ranked) == 5 and [s["metadata"]["score"] for s in ranked] == sorted(
        (s["metadata"]["score"] for s in ranked), reverse=True
    )
    chain = f"distance_cutoff,{REORDER},prompt_budget"
    reordered = tutor_factory(**wide, rag_postprocessors=chain)
    reordered.llm.default = Reply.from_text(ANSWER)
    final = (await one_turn(reordered)).final
    # LongContextReorder puts the best chunks at both ends: ranks 1, 3, 5, 4, 2
    assert final["sources"] == [ranked[i] for i in (0, 2, 4, 3, 1)]
    prompt = reordered.llm.chat_requests[-1]["messages"][1]["content"]
    blocks = [b.split(">\n", 1)[1] for b in prompt.split("<source id=")[1:]]
    assert len(blocks) == 5  # the prompt holds them in the same order
    assert all(
        b.startswith(s["content"][:200]) for b, s in zip(blocks, final["sources"], strict=True)
    )


async def test_every_stage_reports_its_lap(tutor: Tutor) -> None:
    tutor.llm.default = Reply.from_text(ANSWER)
    fresh = (await one_turn(tutor)).final["metadata"]["timings_ms"]
    before = ["context", "embed", "scope", "curated", "cache"]
    stages = [*before, "retrieval", "postprocess", "prompt"]
    assert list(fresh)[:8] == stages
    assert {"llm_first_token", "llm_stream", "cache_store"} <= set(fresh)
    cached = (await one_turn(tutor, user="s2")).final["metadata"]["timings_ms"]
    assert list(cached) == before


async def test_whole_answers_are_framed_in_phrases_like_fresh_ones(tutor: Tutor) -> None:
    long_answer = " ".join(["Infrastruktur TI mencakup perangkat keras dan jaringan (hal. 1)."] * 8)
    tutor.llm.default = Reply.from_text(long_answer)
    fresh = await one_turn(tutor)
    cached = await one_turn(tutor, user="s2")
    assert cached.final["cached"] is True and cached.final["response"] == long_answer
    assert len(cached.chunks) >= 3 and all(len(c["chunk"]) <= 8 * 24 for c in cached.chunks)
    assert fresh.final["response"] == long_answer
    refused = await one_turn(tutor, "Siapa pemenang piala dunia sepak bola tahun 2018?")
    assert refused.final["response_source"] == "not_covered" and len(refused.chunks) >= 1
