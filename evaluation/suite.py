"""One evaluation, end to end: index the sets, ask every question, score, sweep, recommend.

The CLI, the notebook and the integration test all call :func:`evaluate`, so the numbers in
``evaluation/out`` and in the notebook come from the same code path.
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
from evaluation.dataset import Question, SetName, corpus_courses, load_questions, sample_courses
from evaluation.indexing import ensure_indexed
from evaluation.metrics import GROUPS, DistanceSamples, Scores, breakdown, distance_samples, score
from evaluation.runner import DEFAULT_DEPTH, SWEEP_TOP_KS, Mode, QuestionRun, run_questions
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
    sets: tuple[SetName, ...] = ("corpus", "sample")
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
    points: list[SweepPoint]
    recommendation: Recommendation
    at_configured: SweepPoint


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
    settings: Settings, sets: Sequence[SetName], work_dir: Path, console: Console | None = None
) -> list[Question]:
    """Ingest the courses of ``sets`` (idempotent) and return their questions. Blocking."""
    questions: list[Question] = []
    for name in sets:
        courses = (
            corpus_courses() if name == "corpus" else sample_courses(work_dir / "sample_courses")
        )
        ensure_indexed(settings, courses, console)
        questions += load_questions(name)
    return questions


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
    settings: Settings, config: EvalConfig, console: Console | None = None
) -> EvalReport:
    started = time.perf_counter()
    questions = await asyncio.to_thread(index_sets, settings, config.sets, config.work_dir, console)
    indexed = time.perf_counter()
    top_ks = tuple(sorted({*config.top_ks, settings.rag_top_k}))
    runs, timing = await run_questions(settings, questions, config.modes, top_ks, config.depth)
    asked = time.perf_counter()
    configured = settings.distance_threshold
    grid = sorted({*config.grid, configured})
    results: dict[Mode, ModeResult] = {}
    for mode, mode_runs in runs.items():
        points = sweep(mode_runs, top_ks, grid)
        results[mode] = ModeResult(
            score(mode_runs),
            {group: breakdown(mode_runs, group) for group in GROUPS},
            points,
            recommend(points, mode, settings.rag_top_k, config.rule, config.keep),
            at(points, mode, settings.rag_top_k, configured),
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
            "embed": round(timing.embed_seconds, 2),
            "retrieve": round(timing.retrieve_seconds, 2),
            "requests": timing.requests,
            "total": round(time.perf_counter() - started, 2),
        },
        diagnostics=diagnose(runs),
    )
