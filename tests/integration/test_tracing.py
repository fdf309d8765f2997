"""OTEL_ENABLED: a real turn (real server, real Redis, scripted LLM over HTTP) becomes one trace.

The OpenTelemetry SDK's in-memory exporter receives what the server's tracer provider exports; the
provider is flushed when the app shuts down. The trace has the turn's span with its id and course,
and LlamaIndex's spans (retriever, each postprocessor, synthesizer, LLM call) nested under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from llama_index_instrumentation import get_dispatcher
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.main import create_app
from app.observability.spans import spans_observed
from tests.conftest import reset_runtime_state
from tests.support.client import ask, connect
from tests.support.live_server import live_server
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.settings import REDIS_URL, isolated_settings

pytestmark = pytest.mark.integration
COURSE = "course_tik_01"


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        above = by_id[parent.span_id]
        names.append(above.name)
        parent = above.parent
    return names


def named(spans: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


async def test_a_turn_is_one_trace_with_llamaindex_spans_inside(
    sample_index: str, scripted_llm: ScriptedOpenAI, tmp_path: Path
) -> None:
    scripted_llm.script(Reply.from_text("Infrastruktur TI mencakup perangkat keras (hlm. 1)."))
    settings = isolated_settings(
        sample_index,
        tmp_path,
        openai_api_base=scripted_llm.base_url,
        openai_model_comprehensive="gpt-4o-mini",
        openai_model_personalized="gpt-4o-nano",
        cache_enabled=False,
        otel_enabled=True,
        otel_service_name="tutor-under-test",
    )
    exporter = InMemorySpanExporter()
    reset_runtime_state(REDIS_URL, sample_index)
    with live_server(create_app(settings, span_exporter=exporter)) as url:
        assert spans_observed()  # the handler is registered while the app runs
        ws, hello = await connect(url, user_id="traced-student", course_id=COURSE)
        async with ws:
            assert hello["type"] == "connection"
            turn = await ask(ws, "Apa itu manajemen infrastruktur TI?")
    assert not spans_observed()  # ... and removed at shutdown, the exporter flushed
    final = turn.final
    assert final["type"] == "chat_response", final
    spans = exporter.get_finished_spans()

    [root] = named(spans, "tutor.turn")
    attributes = dict(root.attributes or {})
    assert attributes["tutor.turn_id"] == final["metadata"]["turn_id"]
    assert attributes["tutor.course_id"] == COURSE
    assert list(attributes["tutor.course_ids"]) == [COURSE]  # type: ignore[arg-type]
    assert attributes["tutor.response_source"] == "rag" and attributes["tutor.cached"] is False
    assert root.resource.attributes["service.name"] == "tutor-under-test"

    by_id = {s.context.span_id: s for s in spans}
    [retriever] = named(spans, "CourseRetriever.aretrieve")
    retrieved = final["metadata"]["documents_retrieved"]
    assert (retriever.attributes or {})["llama_index.nodes"] == retrieved
    postprocessors = {
        s.name for s in named(spans, "DistanceCutoff.") + named(spans, "PromptBudget.")
    }
    assert {
        "DistanceCutoff.apostprocess_nodes",
        "PromptBudget.apostprocess_nodes",
    } <= postprocessors
    [synthesizer] = named(spans, "StreamingSynthesizer.astream")
    llm_calls = named(spans, "CompatibleOpenAI.astream_chat")
    assert llm_calls and all(
        "StreamingSynthesizer.astream" in ancestors(s, by_id) for s in llm_calls
    )
    for span in (retriever, synthesizer, *llm_calls):
        assert span.context.trace_id == root.context.trace_id
        assert ancestors(span, by_id)[-1] == "tutor.turn", (span.name, ancestors(span, by_id))
    assert get_dispatcher().span_handlers  # LlamaIndex's own null handler stays
