"""Writing the answer from the chosen chunks, streamed: the project's own synthesizer.

LlamaIndex's response synthesizers return text (or a text generator) and hide the LLM call; a
tutor turn needs more from that call: its token usage and price, a timeout before the first token
and between tokens, and the moment the first token arrived. So the answer is written by one
metered ``stream_chat`` call here, over the prompt of :mod:`app.services.prompt`, and the rest of
the query path (retriever, postprocessors) stays LlamaIndex's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from llama_index.core.schema import NodeWithScore

from app.observability.spans import llama_span
from app.protocol.messages import UsageItem
from app.services.llm import CompatibleOpenAI, Delta, LLMUnavailableError
from app.services.metered import MeteredLLM
from app.services.prompt import AnswerPrompt, answer_messages
from app.services.timing import Stopwatch


@dataclass(frozen=True)
class Synthesis:
    text: str
    usage: UsageItem
    model: str


class StreamingSynthesizer:
    def __init__(self, llm: MeteredLLM, model: CompatibleOpenAI, max_chars: int) -> None:
        self._llm = llm
        self._model = model
        self._max_chars = max_chars  # per source in the prompt (the chain already chose them)

    @property
    def model_name(self) -> str:
        return self._model.model

    async def astream(
        self,
        question: str,
        nodes: Sequence[NodeWithScore],
        language: str,
        prompt: AnswerPrompt,
        clock: Stopwatch,
    ) -> AsyncIterator[Delta | Synthesis]:
        """Text deltas as the model writes, then the whole :class:`Synthesis`.

        A prompt with a reply guard (guided mode) passes on only what the guard lets through and
        ends the call once the guard says the reply is complete.
        """
        messages = answer_messages(question, nodes, language, self._max_chars, prompt)
        clock.lap("prompt")
        guard = prompt.guard(language) if prompt.guard is not None else None

        def stop() -> bool:
            return guard is not None and guard.done

        parts: list[str] = []
        usage: UsageItem | None = None
        first = True
        with llama_span(self, "astream", question=question, nodes=len(nodes), language=language):
            async for event in self._llm.stream(
                self._model, messages, "answer", stop if guard is not None else None
            ):
                if isinstance(event, Delta):
                    if first:
                        clock.lap("llm_first_token")
                        first = False
                    text = guard.push(event.text) if guard is not None else event.text
                    if not text:
                        continue
                    parts.append(text)
                    yield Delta(text) if guard is not None else event
                else:
                    usage = event
        clock.lap("llm_stream")
        text = "".join(parts).strip()
        if not text or usage is None:
            raise LLMUnavailableError("empty answer")
        yield Synthesis(text, usage, self._model.model)
