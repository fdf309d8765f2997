"""One evaluation, end to end: index the sets, ask every question, score, sweep, recommend.

The CLI, the notebook and the integration test all call :func:`evaluate`, so the numbers in
``evaluation/out`` and in the notebook come from the same code path.

Held-out questions are scored and reported, never tuned on: the threshold sweep behind the
recommendation sees only the other questions (``dev`` and the legacy sets), and the refusal
numbers at the configured threshold are reported per split.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from app.core.config import Settings
from evaluation.bysplit import SplitTables, split_tables
from evaluation.dataset import (
    SET_MATERIAL,
    Material,
    Question,
    SetName,
    load_questions,
    material_courses,
)
from evaluation.indexing import ensure_indexed
from evaluation.metrics import GROUPS, DistanceSamples, Scores, breakdown, distance_samples, score
from evaluation.runner import (
    DEFAULT_DEPTH,
    SWEEP_TOP_KS,
    Mode,
    OpenSearch,
    QuestionRun,
    run_questions,
    server_retriever,
)
from evaluation.splits import SPLITS
from evaluation.sweep import (
    DEFAULT_KEEP,
    Recommendation,
    Rule,
    SweepPoint,
    at,
    recommend,
    sweep,
    threshold_grid,
)


@dataclass(frozen=True)
class EvalConfig:
    sets: tuple[SetName, ...] = ("corpus", "sample", "students")
    splits: tuple[str, ...] = ()  # students-set splits to ask (empty: all of them)
    materials: tuple[Material, ...] = ()  # only questions on this material (empty: all)
    modes: tuple[Mode, ...] = ("dense", "hybrid")
    top_ks: tuple[int, ...] = SWEEP_TOP_KS
    depth: int = DEFAULT_DEPTH
    grid: tuple[float, ...] = field(default_factory=lambda: tuple(threshold_grid()))
    rule: Rule = "recall"
    keep: float = DEFAULT_KEEP
    work_dir: Path = Path("evaluation/out")  # the sample course is rendered under it


@dataclass
class ModeResult:
    scores: Scores
    groups: dict[str, dict[str, Scores]]
    points: list[SweepPoint]  # swept on the tuning questions only (not held-out)
    recommendation: Recommendation
    at_configured: SweepPoint
    by_split: SplitTables


@dataclass
class EvalReport:
    settings: dict[str, Any]
    config: EvalConfig
    questions: list[Question]
    runs: dict[Mode, list[QuestionRun]]
    results: dict[Mode, ModeResult]
    distances: DistanceSamples
    seconds: dict[str, float]
    diagnostics: dict[str, Any]

    @property
    def headline_mode(self) -> Mode:
        """The mode the server is configured to use, when it was evaluated."""
        wanted: Mode = "hybrid" if self.settings["rag_hybrid"] else "dense"
        return wanted if wanted in self.results else next(iter(self.results))

    @property
    def recommendation(self) -> Recommendation:
        return self.results[self.headline_mode].recommendation

    @property
    def points(self) -> list[SweepPoint]:
        return [p for result in self.results.values() for p in result.points]


def settings_summary(settings: Settings) -> dict[str, Any]:
    return {
        "key_prefix": settings.key_prefix,
        "embedding_model": settings.embedding_model_name,
        "chunk_size_words": settings.chunk_size_words,
        "chunk_overlap_words": settings.chunk_overlap_words,
        "rag_top_k": settings.rag_top_k,
        "rag_hybrid": settings.rag_hybrid,
        "configured_threshold": settings.distance_threshold,
    }


def index_sets(
    settings: Settings,
    sets: Sequence[SetName],
    work_dir: Path,
    console: Console | None = None,
    splits: Sequence[str] = (),
    materials: Sequence[Material] = (),
) -> list[Question]:
    """Ingest the material ``sets`` ask about (idempotent) and return their questions. Blocking.

    ``splits`` narrows the students set (e.g. ``("dev",)`` while tuning; legacy sets are kept);
    ``materials`` keeps only the questions on the corpus PDFs or only those on the sample course.
    """
    needed: list[Material] = []
    for name in sets:
        needed += [m for m in SET_MATERIAL[name] if m not in needed]
    needed = [m for m in needed if not materials or m in materials]
    for material in needed:
        ensure_indexed(settings, material_courses(material, work_dir / "sample_courses"), console)
    return [
        q
        for name in sets
        for q in load_questions(name)
        if q.material in needed and (not splits or q.split not in SPLITS or q.split in splits)
    ]


def tuning(runs: Sequence[QuestionRun]) -> list[QuestionRun]:
    """The runs a threshold or any other setting may be chosen on: never the held-out ones."""
    return [r for r in runs if r.question.split != "heldout"]


def diagnose(runs: dict[Mode, list[QuestionRun]]) -> dict[str, Any]:
    """Facts about the retriever itself that the scores would hide."""
    unscored = sum(h.distance >= 2.0 for rs in runs.values() for r in rs for h in r.deep)
    reranked: dict[str, int] = {}
    for mode, mode_runs in runs.items():
        changed = 0
        for run in mode_runs:
            deep = [(h.filename, h.page) for h in run.deep]
            for hits in run.lists.values():
                changed += [(h.filename, h.page) for h in hits] != deep[: len(hits)]
        reranked[mode] = changed
    return {
        "candidates_without_distance": unscored,
        "top_k_lists_not_a_prefix_of_the_deep_list": reranked,
    }


async def evaluate(
    settings: Settings,
    config: EvalConfig,
    console: Console | None = None,
    open_search: OpenSearch = server_retriever,
) -> EvalReport:
    started = time.perf_counter()
    questions = await asyncio.to_thread(
        index_sets,
        settings,
        config.sets,
        config.work_dir,
        console,
        config.splits,
        config.materials,
    )
    indexed = time.perf_counter()
    top_ks = tuple(sorted({*config.top_ks, settings.rag_top_k}))
    runs, timing = await run_questions(
        settings, questions, config.modes, top_ks, config.depth, open_search
    )
    asked = time.perf_counter()
    configured = settings.distance_threshold
    grid = sorted({*config.grid, configured})
    results: dict[Mode, ModeResult] = {}
    for mode, mode_runs in runs.items():
        points = sweep(tuning(mode_runs) or mode_runs, top_ks, grid)
        results[mode] = ModeResult(
            score(mode_runs),
            {group: breakdown(mode_runs, group) for group in GROUPS},
            points,
            recommend(points, mode, settings.rag_top_k, config.rule, config.keep),
            at(points, mode, settings.rag_top_k, configured),
            split_tables(mode_runs, settings.rag_top_k, configured),
        )
    dense_runs = runs.get("dense") or next(iter(runs.values()))
    return EvalReport(
        settings=settings_summary(settings),
        config=config,
        questions=questions,
        runs=runs,
        results=results,
        distances=distance_samples(dense_runs),
        seconds={
            "index": round(indexed - started, 2),
            "questions": round(asked - indexed, 2),
            "search": round(timing.seconds, 2),
            "requests": timing.requests,
            "total": round(time.perf_counter() - started, 2),
        },
        diagnostics={
            **diagnose(runs),
            "threshold_swept_on": len(tuning(dense_runs)) or len(dense_runs),
            "threshold_swept_on_heldout": not tuning(dense_runs),
        },
    )
