"""The node postprocessor chain, built from ``RAG_POSTPROCESSORS``: one registry, one place.

The chain runs between retrieval and the answer, in order, like LlamaIndex's
``RetrieverQueryEngine``: each step takes the nodes and the question and returns nodes. A step is
named either by a key of :data:`REGISTRY` or by a dotted import path
(``package.module:Name`` or ``package.module.Name``) of a ``BaseNodePostprocessor`` subclass or of
a factory; any LlamaIndex postprocessor or reranker can be plugged in that way.

How a dotted path is turned into a postprocessor: a class with a ``from_settings(settings)``
classmethod is built by it; another ``BaseNodePostprocessor`` subclass is built without
arguments; any other callable is called with the settings and must return a postprocessor.
The default chain is ``distance_cutoff,prompt_budget``: keep the cut first (it decides "not
covered" before any LLM call) and the budget last (it decides what the prompt holds); a reranker
goes between them.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.core.config import Settings
from app.observability.spans import llama_span
from app.rag.postprocessors import DistanceCutoff, PromptBudget

Factory = Callable[[Settings], BaseNodePostprocessor]

REGISTRY: dict[str, Factory] = {
    "distance_cutoff": lambda s: DistanceCutoff(threshold=s.chunk_cutoff),
    "prompt_budget": lambda s: PromptBudget(max_chars=s.context_chars),
}


class ChainConfigError(ValueError):
    """``RAG_POSTPROCESSORS`` names something that is not a usable node postprocessor."""


def build_chain(
    settings: Settings, registry: dict[str, Factory] | None = None
) -> list[BaseNodePostprocessor]:
    """The configured postprocessors, built once (at startup: a bad name stops the server)."""
    known = REGISTRY if registry is None else registry
    return [_build(name, settings, known) for name in settings.rag_postprocessors]


async def apply_chain(
    chain: Sequence[BaseNodePostprocessor], nodes: list[NodeWithScore], query: QueryBundle
) -> list[NodeWithScore]:
    """Run the nodes through the chain, in order (``RetrieverQueryEngine``'s loop)."""
    for step in chain:  # each step a LlamaIndex span when tracing (ours override the async path)
        with llama_span(step, "apostprocess_nodes", nodes=len(nodes)):
            nodes = await step.apostprocess_nodes(nodes, query_bundle=query)
    return nodes


def before_budget(
    chain: Sequence[BaseNodePostprocessor], step: BaseNodePostprocessor
) -> list[BaseNodePostprocessor]:
    """The chain with a per-turn ``step`` right before its prompt budget (so after the distance
    cut and any reranker), or at its end when it has no budget."""
    steps = list(chain)
    at = next((i for i, s in enumerate(steps) if isinstance(s, PromptBudget)), len(steps))
    return [*steps[:at], step, *steps[at:]]


def _build(name: str, settings: Settings, known: dict[str, Factory]) -> BaseNodePostprocessor:
    factory = known.get(name)
    target = factory if factory is not None else _import(name)
    built = _instantiate(target, settings, name)
    if not isinstance(built, BaseNodePostprocessor):
        raise ChainConfigError(
            f"RAG_POSTPROCESSORS: {name!r} gave a {type(built).__name__}, "
            "not a llama_index BaseNodePostprocessor"
        )
    return built


def _instantiate(target: Any, settings: Settings, name: str) -> Any:
    try:
        if inspect.isclass(target) and issubclass(target, BaseNodePostprocessor):
            from_settings = getattr(target, "from_settings", None)
            return from_settings(settings) if callable(from_settings) else target()
        if callable(target):
            return target(settings)
    except (TypeError, ValueError) as exc:
        raise ChainConfigError(f"RAG_POSTPROCESSORS: cannot build {name!r}: {exc}") from exc
    raise ChainConfigError(f"RAG_POSTPROCESSORS: {name!r} is not a class or a factory")


def _import(name: str) -> Any:
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    if not module_name or not attr:
        raise ChainConfigError(
            f"RAG_POSTPROCESSORS: unknown postprocessor {name!r}; use one of "
            f"{', '.join(sorted(REGISTRY))} or a dotted import path"
        )
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ChainConfigError(f"RAG_POSTPROCESSORS: cannot import {name!r}: {exc}") from exc
