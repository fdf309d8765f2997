"""A model file's pages go back to the page cache once enough texts were embedded, or after a burst,
and the mapping still reads the same bytes afterwards; only the mappings the load created count."""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import os
import sys
from pathlib import Path

import pytest

from app.core.batching import MicroBatcher
from app.core.embeddings import LocalE5Embedding
from app.core.mapped_pages import MappedPages

linux = pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/smaps and madvise")
SIZE = 4 << 20


def resident_kib(path: Path) -> int:
    total, current = 0, ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            current = head[5] if len(head) == 6 else ""
        elif line.startswith("Rss:") and current == str(path.resolve()):
            total += int(line.split()[1])
    return total


def read_all(view: mmap.mmap) -> str:
    return hashlib.sha256(view[:]).hexdigest()


def map_read_only(path: Path) -> mmap.mmap:
    with path.open("rb") as file:
        return mmap.mmap(file.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)


@linux
def test_released_pages_leave_the_resident_set_and_read_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(SIZE))
    earlier = map_read_only(path)  # mapped before the load: not the model's, never released
    view, pages = MappedPages.around(lambda: map_read_only(path), [path], every=2)
    assert pages.size == SIZE
    before = read_all(view)
    read_all(earlier)
    assert resident_kib(path) >= 2 * SIZE // 1024  # both mappings fully resident

    pages.embedded(1)
    assert not pages.release_if_due()  # one text: not yet
    pages.embedded(1)
    assert pages.release_if_due()
    assert resident_kib(path) < SIZE // 1024 + 64  # only the earlier mapping is left
    assert read_all(view) == before  # the same bytes, mapped again from the page cache
    view.close()
    earlier.close()


def test_a_burst_is_released_when_idle_and_a_lone_question_waits_for_the_count() -> None:
    pages = MappedPages([], {(0, 4096, "/nonexistent")}, every=16)
    pages.embedded(1)
    assert not pages.due() and not pages.due(idle=True)  # lone questions add up to 16 first
    pages.embedded(5)  # a batch: a burst
    assert not pages.due() and pages.due(idle=True)
    pages.embedded(10)
    assert pages.due()
    assert not MappedPages([], set(), every=1).due(idle=True)  # nothing mapped: nothing to do


@linux
def test_the_local_model_finds_its_weights_and_not_its_engine() -> None:
    model = LocalE5Embedding()
    found = {Path(file).name for _, _, file in model._pages._mappings}
    assert found and all(name.endswith(".bin") for name in found)
    first = model.get_query_embedding("apa itu sistem operasi?")
    model._pages.embedded(100)
    assert model._pages.release_if_due()
    model._recent.clear()
    assert model.get_query_embedding("apa itu sistem operasi?") == first


async def test_the_idle_step_runs_after_a_burst_and_what_arrives_meanwhile_is_served() -> None:
    idle_runs: list[int] = []
    batches: list[list[str]] = []
    late: list[asyncio.Task[str]] = []

    def run(items: list[str]) -> list[str]:
        batches.append(items)
        return [i.upper() for i in items]

    async def on_idle() -> None:
        idle_runs.append(len(batches))
        if len(idle_runs) == 1:  # a question arrives while the idle step runs
            late.append(asyncio.create_task(batcher.submit("late")))
            await asyncio.sleep(0.01)

    batcher: MicroBatcher[str, str] = MicroBatcher(run, max_batch=8, on_idle=on_idle)
    answers = await asyncio.gather(*(batcher.submit(x) for x in "abc"))
    assert answers == ["A", "B", "C"]
    assert await asyncio.wait_for(late[0], 5) == "LATE"
    await asyncio.sleep(0.01)
    assert idle_runs == [len(batches) - 1, len(batches)]  # once per burst, the late one included
