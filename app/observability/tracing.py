"""Optional OpenTelemetry tracing (``OTEL_ENABLED``): one span per turn, LlamaIndex's spans inside.

LlamaIndex reports its work through its instrumentation dispatcher (retriever, each node
postprocessor, the LLM call, and the synthesizer through
:func:`app.observability.spans.llama_span`).
:class:`OtelSpanHandler` is a LlamaIndex span handler that turns each of those spans into an
OpenTelemetry span, nested as LlamaIndex nests them; spans without a LlamaIndex parent hang under
the OpenTelemetry span current in their task, which is the turn's (:class:`TracedChat`), so a
turn is one trace: ``tutor.turn`` → ``CourseRetriever.aretrieve``,
``DistanceCutoff._postprocess_nodes``, ``StreamingSynthesizer.astream`` →
``CompatibleOpenAI.astream_chat`` …

The SDK and the OTLP/HTTP exporter come with the ``otel`` extra and are imported only when tracing
is on. The handler is registered on LlamaIndex's root dispatcher (LlamaIndex keeps its dispatchers
process-wide) for the app's lifetime and removed, with the exporter flushed, at shutdown.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from llama_index.core.schema import NodeWithScore
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.span import SimpleSpan
from llama_index_instrumentation.span_handlers import BaseSpanHandler
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue
from pydantic import PrivateAttr

from app.core.config import Settings
from app.services.turn import Answerer, TextDelta, TurnRequest, TurnResult

TURN_SPAN = "tutor.turn"
UUID_PARTS = 5  # "<Class>.<method>-<uuid4>": the uuid has four hyphens, plus the separator


def span_name(id_: str) -> str:
    """``CourseRetriever.aretrieve`` of the span id ``CourseRetriever.aretrieve-<uuid>``."""
    return id_.rsplit("-", UUID_PARTS)[0] or id_


class OtelSpanHandler(BaseSpanHandler[SimpleSpan]):
    """LlamaIndex spans as OpenTelemetry spans (same nesting, errors recorded)."""

    _tracer: Tracer = PrivateAttr()
    _spans: dict[str, Span] = PrivateAttr()
    _guard: threading.Lock = PrivateAttr()

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self._tracer = tracer
        self._spans = {}
        self._guard = threading.Lock()

    @classmethod
    def class_name(cls) -> str:
        return "OtelSpanHandler"

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        with self._guard:
            parent = self._spans.get(parent_span_id) if parent_span_id else None
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self._tracer.start_span(span_name(id_), context=context)
        span.set_attribute("llama_index.span_id", id_)
        for key, value in (tags or {}).items():
            if isinstance(value, str | int | float | bool):
                span.set_attribute(f"llama_index.tag.{key}", value)
        with self._guard:
            self._spans[id_] = span
        return SimpleSpan(id_=id_, parent_id=parent_span_id, tags=tags or {})

    def _take(self, id_: str) -> Span | None:
        with self._guard:
            return self._spans.pop(id_, None)

    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        span = self._take(id_)
        if span is not None:
            if isinstance(result, list) and all(isinstance(n, NodeWithScore) for n in result):
                span.set_attribute("llama_index.nodes", len(result))
            span.set_status(Status(StatusCode.OK))
            span.end()
        with self.lock:
            return self.open_spans.get(id_)

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        span = self._take(id_)
        if span is not None:
            if err is not None and not isinstance(err, GeneratorExit):
                span.record_exception(err)
                span.set_status(Status(StatusCode.ERROR, type(err).__name__))
            span.end()
        with self.lock:
            return self.open_spans.get(id_)


class Tracing:
    """The tracer provider and the LlamaIndex span handler, for one app's lifetime."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("course-tutor")
        self.handler = OtelSpanHandler(self.tracer)
        get_dispatcher().add_span_handler(self.handler)

    @contextlib.contextmanager
    def turn(self, req: TurnRequest) -> Iterator[Span]:
        """The turn's span, current while the turn runs (LlamaIndex spans nest under it)."""
        courses = sorted(req.course_ids) if req.course_ids is not None else ["*"]
        attributes: dict[str, AttributeValue] = {
            "tutor.turn_id": req.turn_id,
            "tutor.course_id": req.course_id or "",
            "tutor.course_ids": courses,
            "tutor.personalization": req.use_personalization,
        }
        with self.tracer.start_as_current_span(TURN_SPAN, attributes=attributes) as span:
            yield span

    def close(self) -> None:
        """Stop listening and flush what is still buffered."""
        handlers = get_dispatcher().span_handlers
        if self.handler in handlers:
            handlers.remove(self.handler)
        self.provider.shutdown()


class TracedChat:
    """The chat service with each turn inside its own span (the result's facts as attributes)."""

    def __init__(self, inner: Answerer, tracing: Tracing) -> None:
        self._inner = inner
        self._tracing = tracing

    async def answer(self, req: TurnRequest) -> AsyncIterator[TextDelta | TurnResult]:
        with self._tracing.turn(req) as span:
            async for event in self._inner.answer(req):
                if isinstance(event, TurnResult):
                    span.set_attribute("tutor.response_source", event.response_source)
                    span.set_attribute("tutor.cached", event.cached)
                    span.set_attribute("tutor.documents_used", event.documents_used)
                yield event


def build_tracing(settings: Settings, exporter: SpanExporter | None = None) -> Tracing | None:
    """Tracing as configured (``None`` when off); ``exporter`` replaces OTLP (tests)."""
    if not settings.otel_enabled:
        return None
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = (settings.otel_exporter_otlp_endpoint or "").rstrip("/")
        exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces") if base else OTLPSpanExporter()
    resource = Resource.create({"service.name": settings.otel_service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)
