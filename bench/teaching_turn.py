"""(h) What the teaching loop adds to a turn: the course-scope read, the curated-answer match and
the page-context step, side by side in one run.

Two app instances over the same sample index and the same LLM stub: one whose course has no
curated answers, one whose course has ``CURATED`` of them (none close to the questions, so the
match runs in full and misses, as it does for most questions). Every question is asked, in turn,
to the first (no page open), to the second (no page open) and to the first with a page of module 6
open; the cache is emptied after each, so every turn reaches retrieval. The numbers are the
turns' own ``metadata.timings_ms`` laps (milliseconds, medians).

    .venv/bin/python -m bench.run_all --only teaching_turn
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import httpx
import websockets

from app.main import create_app
from bench.common import PRE_LLM_LAPS, Section, clear_answer_cache, median, table
from bench.context import Context
from bench.llm_stub import llm_stub, model_name
from bench.questions import QUESTIONS
from bench.sample_index import QUESTION_COURSE
from bench.wsclient import TimedTurn, timed_ask
from tests.support.client import stream_url
from tests.support.live_server import live_server

NAME = "teaching_turn"
TITLE = "(h) The teaching loop's stages in a turn: scope, curated match, page context"
CURATED = 200
OPEN_PAGE = {"material_id": "modul_infrastruktur_06", "page": 5}
LAPS = ("scope", "curated", "cache", "retrieval", "postprocess")
TOPICS = (
    "jadwal praktikum", "pengumpulan laporan", "nilai kuis", "ruang ujian", "format makalah",
    "presentasi kelompok", "batas revisi", "kehadiran kuliah", "akses lab", "tugas mandiri",
)  # fmt: skip


def curated_questions(n: int) -> list[str]:
    """Course-logistics questions a lecturer might curate, half of them with a number."""
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        out.append(f"Kapan {topic} minggu {i}?" if i % 2 else f"Bagaimana aturan {topic} ({i})?")
    return out


def add_curated(url: str, n: int) -> None:
    with httpx.Client(base_url=url, headers={"X-User-Id": "bench-lecturer"}, timeout=60) as http:
        for question in curated_questions(n):
            body = {"question": question, "answer": f"Lihat pengumuman: {question}"}
            http.put(f"/courses/{QUESTION_COURSE}/answers", json=body).raise_for_status()


async def _measure(
    urls: dict[str, str], questions: list[str], clear: Callable[[], int]
) -> dict[str, list[TimedTurn]]:
    params = {"user_id": "bench", "course_id": QUESTION_COURSE}
    configs: list[tuple[str, str, dict[str, Any]]] = [
        ("no curated answers", urls["plain"], {}),
        (f"{CURATED} curated answers", urls["curated"], {}),
        ("page open (no curated)", urls["plain"], OPEN_PAGE),
    ]
    out: dict[str, list[TimedTurn]] = {name: [] for name, _, _ in configs}
    async with (
        websockets.connect(stream_url(urls["plain"], **params)) as plain,
        websockets.connect(stream_url(urls["curated"], **params)) as curated,
    ):
        sockets = {urls["plain"]: plain, urls["curated"]: curated}
        await plain.recv()
        await curated.recv()
        for question in questions[:2]:  # warm-up: each worker loads its course's curated answers
            for _, url, fields in configs:
                await timed_ask(sockets[url], f"{question} (pemanasan)", **fields)
                clear()
        for i, question in enumerate(questions):
            order = configs if i % 2 == 0 else configs[::-1]
            for name, url, fields in order:
                # a text of its own per configuration: the app remembers recent question vectors,
                # and a remembered one would hide the embedding cost in one column only
                asked = f"{question} ({configs.index((name, url, fields)) + 1})"
                out[name].append(await timed_ask(sockets[url], asked, **fields))
                clear()
    return out


def run(ctx: Context) -> Section:
    questions = list(QUESTIONS[: ctx.reps(40, 6)])
    n_curated = ctx.reps(CURATED, 20)
    with llm_stub() as llm_url, ExitStack() as stack:
        overrides = {"openai_api_base": llm_url, "openai_model_comprehensive": model_name(20, 0)}
        settings = {
            tag: ctx.settings(f"teaching-{tag}", **overrides) for tag in ("plain", "curated")
        }
        urls = {tag: stack.enter_context(live_server(create_app(s))) for tag, s in settings.items()}
        add_curated(urls["curated"], n_curated)
        turns = asyncio.run(
            _measure(urls, questions, lambda: clear_answer_cache(settings["plain"]))
        )
    rows = []
    for name, measured in turns.items():
        rag = [t for t in measured if t.source == "rag"]
        sources = {t.source for t in measured}
        rows.append(
            [
                name,
                f"{len(rag)}/{len(measured)}",
                *[f"{median([t.timings.get(lap, 0.0) for t in rag]):.2f}" for lap in LAPS],
                f"{median([t.pre_llm_ms for t in rag]):.1f}",
                ", ".join(sorted(sources)),
            ]
        )
    markdown = "\n\n".join(
        [
            f"{len(questions)} distinct questions about `{QUESTION_COURSE}`, each asked once per "
            f"configuration (order alternating), cache emptied after every turn; {n_curated} "
            f"curated answers in the second instance's course; page context "
            f"`{OPEN_PAGE['material_id']}` page {OPEN_PAGE['page']}. Medians over the turns that "
            "reached the LLM (`rag/N`), in milliseconds; `pre-LLM` sums the laps before the first "
            f"token ({', '.join(PRE_LLM_LAPS)}).",
            table(
                [
                    "configuration",
                    "rag/N",
                    *[f"{lap} p50" for lap in LAPS],
                    "pre-LLM p50",
                    "answers",
                ],
                rows,
            ),
        ]
    )
    raw = {name: [t.timings for t in measured] for name, measured in turns.items()}
    return Section(NAME, TITLE, markdown, raw)
