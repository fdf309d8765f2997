"""Questions asked together are embedded together, each gets its own vector, and a failure or a
cancelled asker never strands the others."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from app.core.batching import MicroBatcher
from app.core.embeddings import LocalE5Embedding


def test_concurrent_questions_share_model_calls_and_get_their_own_vectors() -> None:
    model = LocalE5Embedding(query_batch_size=64)
    questions = [f"apa fungsi router nomor {i}?" for i in range(40)]
    alone = {q: np.asarray(model.get_query_embedding(q)) for q in questions[:3]}
    model._recent.clear()

    async def ask_all() -> tuple[list[list[float]], int]:
        vectors = await asyncio.gather(*(model.aget_query_embedding(q) for q in questions))
        return list(vectors), model._batchers.for_running_loop().batches

    vectors, batches = asyncio.run(ask_all())
    assert len(vectors) == 40 and batches <= 3  # the first one alone, then the rest together
    for question, vector in zip(questions[:3], vectors, strict=False):
        assert np.allclose(vector, alone[question], atol=1e-5)
    assert len({tuple(np.round(v, 4)) for v in vectors}) == 40


async def test_a_failing_batch_fails_only_its_own_askers() -> None:
    calls: list[list[str]] = []
    gate = threading.Event()

    def run(items: list[str]) -> list[str]:
        calls.append(items)
        gate.wait(5)
        if "bad" in items:
            raise ValueError("model failed")
        return [i.upper() for i in items]

    batcher: MicroBatcher[str, str] = MicroBatcher(run, max_batch=8)
    first = asyncio.create_task(batcher.submit("bad"))
    await asyncio.sleep(0.05)  # the first batch is running in its thread
    rest = [asyncio.create_task(batcher.submit(x)) for x in ("a", "b")]
    gone = asyncio.create_task(batcher.submit("c"))
    await asyncio.sleep(0.01)
    gone.cancel()
    gate.set()
    with pytest.raises(ValueError):
        await first
    assert [await t for t in rest] == ["A", "B"]
    assert calls == [["bad"], ["a", "b"]]  # the cancelled asker was left out of the batch
