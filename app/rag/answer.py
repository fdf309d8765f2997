"""An answer to one question, whoever produced it: the query engine, the semantic cache, or a
lecturer's curated answer. Immutable: a stage that changes it returns a new one."""

from __future__ import annotations

from dataclasses import dataclass

from llama_index.core.schema import NodeWithScore

from app.protocol.messages import NotCoveredReason, ResponseSource, UsageItem


@dataclass(frozen=True)
class Answer:
    text: str
    source: ResponseSource
    threshold: float  # the distance cut the retrieval behind this answer used
    nodes: tuple[NodeWithScore, ...] = ()  # the chunks it is grounded in (cited as sources)
    retrieved: int = 0  # chunks retrieval returned
    used: int = 0  # chunks the answer was written from
    model: str | None = None  # the model that wrote it
    priced_model: str | None = None  # the model whose price applies (None: nothing was paid now)
    usage: tuple[UsageItem, ...] = ()  # the LLM calls this answer cost in this turn
    cache_distance: float | None = None
    # what wrote it (model and prompt version, e.g. the guided prompt), when an LLM did
    generator: str | None = None
    # the semantic-cache entry it came from or went into: a downvote holds that entry for review
    cache_key: str | None = None
    # why it is "not covered": no_sources | refusal_gate | model | grounding
    not_covered_reason: NotCoveredReason | None = None
    removed: tuple[str, ...] = ()  # sentences of the streamed answer the grounding check removed
    revised: bool = False  # its text differs from what was streamed (the grounding check)

    @property
    def grounded(self) -> bool:
        """Written by the LLM from chunks it cites: the only kind of answer worth caching."""
        return self.source == "rag" and bool(self.nodes and self.text)

    @property
    def personalizable(self) -> bool:
        """May be rewritten for one student: the tutor's own answers, never a lecturer's curated
        text (served as written) nor the fixed "not covered" one."""
        return self.source in ("rag", "cache")
