"""End to end with the project's own local LLM: the llama.cpp server that `make test` starts.

Slow (CPU generation), so kept to a few questions. Nothing here is scripted: the answer comes from
Qwen2.5-Coder-1.5B through the same OpenAI client code path as any hosted model.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from app.core.config import LOCAL_LLM_MODEL
from tests.conftest import Tutor
from tests.support.client import ask, connect

pytestmark = [pytest.mark.integration, pytest.mark.llm]


@pytest.fixture
def local_tutor(tutor_factory: Callable[..., Tutor]) -> Tutor:
    tutor = tutor_factory(
        openai_api_base=None,
        openai_model_comprehensive=None,
        openai_model_personalized=None,
        openai_max_tokens=120,
        openai_temperature=0.1,
    )
    assert tutor.settings.uses_local_llm
    base = tutor.settings.llm_api_base
    assert base is not None
    try:
        httpx.get(base.replace("/v1", "/openapi.json"), timeout=5).raise_for_status()
    except httpx.HTTPError as exc:  # CI starts it (make test → make llm); a skip would hide that
        pytest.fail(f"the local LLM server is not running at {base}: {exc}; run `make llm`")
    return tutor


async def test_grounded_answer_from_the_local_model(local_tutor: Tutor) -> None:
    ws, hello = await connect(local_tutor.url, user_id="local-1", course_id="course_tik_01")
    assert hello["config"]["model_comprehensive"] == LOCAL_LLM_MODEL
    async with ws:
        turn = await ask(ws, "Sebutkan lima tahap perencanaan infrastruktur TI.", timeout=240)
    final = turn.final
    assert final["type"] == "chat_response", final
    assert final["response_source"] == "rag" and final["sources"]
    assert final["metadata"]["model_used"] == LOCAL_LLM_MODEL
    assert "".join(c["chunk"] for c in turn.chunks) == final["response"]
    assert len(final["response"].split()) >= 5
    usage = final["token_usage"]
    call = usage["calls"][0]
    # llama.cpp streams no usage: prompt tokens come from its tokenizer, output from the stream
    assert call["counted"] is True and call["purpose"] == "answer"
    assert usage["input_tokens"] > 150 and 0 < usage["output_tokens"] <= 120
    assert usage["model_pricing"]["total_cost"] == 0.0  # a local model costs nothing
    top = final["sources"][0]["metadata"]
    assert (
        top["filename"] == "07_modul_perencanaan_infrastruktur_ti.pdf" and top["page_number"] == 2
    )
    assert final["metadata"]["timings_ms"]["llm_first_token"] > 0


async def test_local_model_prompt_count_matches_its_own_usage(local_tutor: Tutor) -> None:
    """The counted prompt tokens equal what the server reports for the same non-streamed call."""
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    from app.services.llm import LlamaCppPromptCounter

    base = local_tutor.settings.llm_api_base
    assert base is not None
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Jawab singkat dalam bahasa Indonesia."),
        ChatMessage(role=MessageRole.USER, content="Apa itu router?"),
    ]
    async with httpx.AsyncClient(timeout=120) as http:
        counted = await LlamaCppPromptCounter(http, base.removesuffix("/v1"), 60).count(messages)
        body = {
            "model": LOCAL_LLM_MODEL,
            "messages": [{"role": m.role.value, "content": m.content} for m in messages],
            "max_tokens": 1,
        }
        reported = (await http.post(f"{base}/chat/completions", json=body)).json()["usage"]
    assert counted == reported["prompt_tokens"]
