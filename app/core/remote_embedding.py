"""A remote embedding endpoint that fails says so in the protocol's terms.

When OpenAI (or a compatible server) cannot embed a question, the student must get
``SERVICE_UNAVAILABLE``, not an internal error. The client library's own exception types stay
here: the rest of the server never imports the openai SDK (it is large, and only this optional
path needs it).
"""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from app.protocol.errors import ErrorCode, ProtocolError


class EmbeddingUnavailableError(ProtocolError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The embedding service is not reachable right now, so the question cannot be read.",
        )
        self.detail = detail


class RemoteEmbedding(BaseEmbedding):
    """Delegates to ``inner``; a failed question embedding becomes EmbeddingUnavailableError.
    Passage embeddings (ingestion) keep their own errors, which the ingest report shows."""

    _inner: BaseEmbedding = PrivateAttr()
    _failures: tuple[type[BaseException], ...] = PrivateAttr()

    def __init__(self, inner: BaseEmbedding, failures: tuple[type[BaseException], ...]) -> None:
        super().__init__(model_name=inner.model_name, embed_batch_size=inner.embed_batch_size)
        self._inner = inner
        self._failures = failures

    @classmethod
    def class_name(cls) -> str:
        return "RemoteEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        try:
            return self._inner.get_query_embedding(query)
        except self._failures as exc:
            raise EmbeddingUnavailableError(type(exc).__name__) from exc

    async def _aget_query_embedding(self, query: str) -> list[float]:
        try:
            return await self._inner.aget_query_embedding(query)
        except self._failures as exc:
            raise EmbeddingUnavailableError(type(exc).__name__) from exc

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._inner.get_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._inner.get_text_embedding_batch(texts)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await self._inner.aget_text_embedding(text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._inner.aget_text_embedding_batch(texts)

    async def aclose(self) -> None:
        """Close the inner model's HTTP clients (the openai SDK keeps them open otherwise)."""
        for name in ("_client", "_aclient"):
            client = getattr(self._inner, name, None)
            if client is None:
                continue
            closing = client.close()
            if hasattr(closing, "__await__"):
                await closing
