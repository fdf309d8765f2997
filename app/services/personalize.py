"""Personalization, the last stage of a turn: the grounded answer rewritten for one student.

It wraps whatever answered (the query engine or the cache) and rewrites only the wording — the
prompt forbids new facts — using the student's profile and the room's recent turns. A turn that
asked for it but has neither profile nor history keeps the answer as it is; a "not covered"
answer is never rewritten.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.protocol.messages import UsageItem
from app.services.history import ConversationContext
from app.services.llm import CompatibleOpenAI, Delta, LLMUnavailableError
from app.services.metered import MeteredLLM
from app.services.prompt import personalize_messages


@dataclass(frozen=True)
class Personalized:
    text: str
    usage: UsageItem
    model: str


class Personalizer:
    def __init__(self, llm: MeteredLLM, model: CompatibleOpenAI, enabled: bool) -> None:
        self._llm = llm
        self._model = model
        self._enabled = enabled

    def wanted(self, requested: bool, context: ConversationContext) -> bool:
        """Whether this turn's answer will be rewritten (then it is not streamed as written)."""
        return requested and self._enabled and context.has_material

    async def astream(
        self, answer: str, context: ConversationContext, language: str
    ) -> AsyncIterator[Delta | Personalized]:
        """The rewritten answer's deltas, then the whole :class:`Personalized`."""
        messages = personalize_messages(answer, context.profile_text, context.turns, language)
        parts: list[str] = []
        usage: UsageItem | None = None
        async for event in self._llm.stream(self._model, messages, "personalize"):
            if isinstance(event, Delta):
                parts.append(event.text)
                yield event
            else:
                usage = event
        text = "".join(parts).strip()
        if not text or usage is None:
            raise LLMUnavailableError("empty personalized answer")
        yield Personalized(text, usage, self._model.model)
