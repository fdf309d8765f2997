"""LlamaIndex instrumentation spans for the stages the project writes itself, only when someone
listens.

LlamaIndex's own components (retrievers, node postprocessors, LLMs) open a span per call through
its dispatcher; a span handler registered on the root dispatcher (OpenTelemetry tracing, or any
LlamaIndex observability integration) sees them. The turn's hot path skips those spans while no
handler but the default null one is registered (they cost more Python time than a retrieval),
and opens them, nested as LlamaIndex nests its own, once one is: :func:`spans_observed` tells
which. :func:`llama_span` opens one around a stage that is not a LlamaIndex component (the
streaming synthesizer), so it shows up in the same trace.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import Iterator
from contextvars import Token
from typing import Any

from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.span import active_span_id
from llama_index_instrumentation.span_handlers import NullSpanHandler


def spans_observed() -> bool:
    """True when a span handler other than LlamaIndex's null one is registered."""
    return any(not isinstance(h, NullSpanHandler) for h in get_dispatcher().span_handlers)


@contextlib.contextmanager
def llama_span(instance: object, method: str, **arguments: Any) -> Iterator[None]:
    """A LlamaIndex span ``<Class>.<method>`` around the block (nothing when none listens)."""
    if not spans_observed():
        yield
        return
    dispatcher = get_dispatcher(type(instance).__module__)
    id_ = f"{type(instance).__name__}.{method}-{uuid.uuid4()}"
    parameters = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY) for k in arguments]
    bound = inspect.Signature(parameters).bind(**arguments)
    token = active_span_id.set(id_)
    parent = None if token.old_value is Token.MISSING else token.old_value
    dispatcher.span_enter(id_=id_, bound_args=bound, instance=instance, parent_id=parent)
    try:
        yield
    except BaseException as exc:
        dispatcher.span_drop(id_=id_, bound_args=bound, instance=instance, err=exc)
        raise
    else:
        dispatcher.span_exit(id_=id_, bound_args=bound, instance=instance, result=None)
    finally:
        with contextlib.suppress(ValueError):  # a generator closed from another context
            active_span_id.reset(token)
