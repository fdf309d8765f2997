"""``python -m evaluation.cli`` (``make eval``): retrieval quality and threshold calibration.

Indexes the eval courses under their own key prefix (first run embeds, later runs skip unchanged
files), asks every labelled question through the server's ``CourseRetriever``, prints hit@k / MRR by
kind with the dev and held-out splits side by side, the refusals of the current "not covered"
rule, the RAG_DISTANCE_THRESHOLD × RAG_TOP_K sweep (on dev and legacy questions only), and writes
``report.json``, ``summary.md`` and plots to ``--out``. While tuning, run with ``--split dev``: the
held-out split is for reporting. Exit codes: 0 done, 2 nothing could be done (no Redis Stack, bad
arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import redis
from pydantic import ValidationError
from rich.console import Console

from app.core.logging import configure_logging
from app.core.redis import SearchModuleMissingError, redact
from evaluation.dataset import SET_NAMES, SetName
from evaluation.indexing import DEFAULT_PREFIX, eval_settings
from evaluation.report import show, write
from evaluation.runner import DEFAULT_DEPTH, Mode
from evaluation.suite import EvalConfig, evaluate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation.cli", description=__doc__)
    parser.add_argument(
        "--set", choices=[*SET_NAMES, "all"], default="all", help="question set (default: all)"
    )
    parser.add_argument(
        "--split",
        choices=["dev", "heldout", "all"],
        default="all",
        help="students-set split to ask (default: all; tune with dev, report held-out)",
    )
    parser.add_argument(
        "--material",
        choices=["corpus", "sample", "all"],
        default="all",
        help="only questions on the corpus PDFs or on the sample course (default: all)",
    )
    parser.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help="Redis key prefix of the eval index (not 'tutor')"
    )
    parser.add_argument("--out", type=Path, default=Path("evaluation/out"), help="output folder")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--no-hybrid", action="store_true", help="dense retrieval only")
    modes.add_argument(
        "--compare-hybrid", action="store_true", help="dense and hybrid (BM25 + vector RRF)"
    )
    parser.add_argument(
        "--top-k", type=int, help="RAG_TOP_K the threshold is recommended for (default: settings)"
    )
    parser.add_argument(
        "--depth",
        type=int,
        default=DEFAULT_DEPTH,
        help=f"candidates per question for MRR and the distance analysis (default {DEFAULT_DEPTH})",
    )
    parser.add_argument(
        "--chunk-size", type=int, help="CHUNK_SIZE_WORDS for the eval index (default: settings)"
    )
    parser.add_argument(
        "--rule",
        choices=["recall", "balanced"],
        default="recall",
        help="threshold rule for the headline (see evaluation/sweep.py)",
    )
    return parser


def selected_modes(args: argparse.Namespace, configured_hybrid: bool) -> tuple[Mode, ...]:
    """Neither flag: the mode the server is configured for (RAG_HYBRID)."""
    if args.compare_hybrid:
        return ("dense", "hybrid")
    if args.no_hybrid:
        return ("dense",)
    return ("hybrid",) if configured_hybrid else ("dense",)


def run(args: argparse.Namespace, console: Console) -> int:
    overrides: dict[str, Any] = {}
    if args.top_k is not None:
        overrides["rag_top_k"] = args.top_k
    if args.chunk_size is not None:
        overrides["chunk_size_words"] = args.chunk_size
    settings = eval_settings(args.prefix, **overrides)
    configure_logging(settings)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns once per damaged PDF object
    sets: tuple[SetName, ...] = SET_NAMES if args.set == "all" else (args.set,)
    config = EvalConfig(
        sets=sets,
        splits=() if args.split == "all" else (args.split,),
        materials=() if args.material == "all" else (args.material,),
        modes=selected_modes(args, settings.rag_hybrid),
        depth=max(args.depth, settings.rag_top_k),
        rule=args.rule,
        work_dir=args.out,
    )
    console.print(
        f"eval: sets={','.join(sets)} split={args.split} modes={','.join(config.modes)} "
        f"prefix={settings.key_prefix} "
        f"model={settings.embedding_model_name} chunk={settings.chunk_size_words} words"
    )
    report = asyncio.run(evaluate(settings, config, console))
    show(report, console)
    for path in write(report, args.out):
        console.print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    try:
        return run(args, console)
    except (ValueError, ValidationError, SearchModuleMissingError) as exc:
        console.print(f"[red]eval:[/red] {exc}")
        return 2
    except redis.ConnectionError as exc:
        url = redact(eval_settings(args.prefix).redis_knowledge_url)
        console.print(f"[red]eval:[/red] cannot reach Redis at {url} ({exc}); run `make redis`")
        return 2


if __name__ == "__main__":
    sys.exit(main())
