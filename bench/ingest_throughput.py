"""(e) Ingest throughput: the real pipeline against the embedding model alone, same chunks.

Per file (interleaved, the order alternating, so drift on a shared machine hits both): the
pipeline (``Ingestor``: parse, clean, chunk, embed in batches, write to Redis) into a private
prefix; then exactly the chunk texts ``plan_chunks`` gives for that file, embedded by the same
embedding object in the same batch size. pypdf parsing alone is timed separately.
"""

from __future__ import annotations

import time
from typing import Any

from app.core.embeddings import build_embedding
from bench.common import CORPUS, Section, bench_settings, drop_prefix, new_prefix, table
from bench.context import Context
from ingest.catalog import course_from_paths
from ingest.pdf import read_pdf
from ingest.pipeline import Ingestor, plan_chunks
from tests.support.ingest import SilentProgress, writer_for

NAME = "ingest"
TITLE = "(e) Ingest throughput on ../shared/corpus (id_* files) with the local model"
PATTERN = "id_*.pdf"


def run(ctx: Context) -> Section:
    files = sorted(CORPUS.glob(PATTERN))[: ctx.reps(99, 1)]
    prefix = new_prefix("e")
    settings = bench_settings(prefix, ctx.data_dir("ingest-bench"))
    size = settings.embedding_batch_size
    embedding = build_embedding(settings)
    embedding.get_text_embedding_batch(["warm-up passage"] * 2)
    writer, client = writer_for(settings)
    ingestor = Ingestor(settings, writer, embedding, SilentProgress())
    rows: list[dict[str, Any]] = []
    try:
        for i, path in enumerate(files):
            course = course_from_paths(f"bench_ingest_{i}", [path])
            material = course.materials[0]
            t0 = time.perf_counter()
            read_pdf(material.path, material.passwords)
            parse_s = time.perf_counter() - t0
            _, planned = plan_chunks(course.course_id, material, settings)
            texts = [c.text for c in planned]

            def pipeline() -> tuple[float, int, int, float]:
                t = time.perf_counter()
                [result] = ingestor.ingest_course(course)  # noqa: B023
                assert result.action == "added", result
                return time.perf_counter() - t, result.pages, result.chunks, result.embed_seconds

            def embed_only() -> float:
                t = time.perf_counter()
                for start in range(0, len(texts), size):  # noqa: B023
                    embedding.get_text_embedding_batch(texts[start : start + size])  # noqa: B023
                return time.perf_counter() - t

            if i % 2 == 0:
                (pipe_s, pages, chunks, embed_in_pipe), embed_s = pipeline(), embed_only()
            else:
                embed_s = embed_only()
                pipe_s, pages, chunks, embed_in_pipe = pipeline()
            assert chunks == len(texts)
            rows.append(
                {"file": path.name, "pages": pages, "chunks": chunks, "parse_s": parse_s,
                 "pipeline_s": pipe_s, "embed_in_pipeline_s": embed_in_pipe,
                 "embed_only_s": embed_s}
            )  # fmt: skip
    finally:
        client.close()
        drop_prefix(prefix)
    total = {k: sum(r[k] for r in rows) for k in rows[0] if k != "file"}
    pipe_cps = total["chunks"] / total["pipeline_s"]
    embed_cps = total["chunks"] / total["embed_only_s"]
    lines = [
        (r["file"], r["pages"], r["chunks"], f"{r['parse_s']:.2f}", r["pipeline_s"],
         r["embed_only_s"], f"{r['chunks'] / r['pipeline_s']:.2f}",
         f"{r['chunks'] / r['embed_only_s']:.2f}",
         f"{r['embed_only_s'] / r['pipeline_s']:.3f}")
        for r in rows
    ]  # fmt: skip
    lines.append(
        ("**total**", total["pages"], total["chunks"], f"{total['parse_s']:.2f}",
         total["pipeline_s"], total["embed_only_s"], f"{pipe_cps:.2f}", f"{embed_cps:.2f}",
         f"**{pipe_cps / embed_cps:.3f}**")
    )  # fmt: skip
    summary = {
        "pages_per_s": total["pages"] / total["pipeline_s"],
        "pipeline_chunks_per_s": pipe_cps,
        "embed_chunks_per_s": embed_cps,
        "ratio": pipe_cps / embed_cps,
        "parse_s": total["parse_s"],
        "embed_share_of_pipeline": total["embed_in_pipeline_s"] / total["pipeline_s"],
    }
    markdown = "\n\n".join(
        [
            f"Batch size {size} (`EMBEDDING_BATCH_SIZE`), chunk size "
            f"{settings.chunk_size_words} words / overlap {settings.chunk_overlap_words}. "
            f"Pipeline: {summary['pages_per_s']:.2f} pages/s, {pipe_cps:.2f} chunks/s; "
            f"embedding alone: {embed_cps:.2f} chunks/s; ratio **{summary['ratio']:.3f}** "
            f"(goal ≥ 0.8). Embedding is {summary['embed_share_of_pipeline']:.0%} of the "
            f"pipeline's time; pypdf parsing alone took {total['parse_s']:.1f} s in total.",
            table(
                ["file", "pages", "chunks", "pypdf parse s", "pipeline s", "embed-only s",
                 "pipeline chunks/s", "embed chunks/s", "ratio"],
                lines,
            ),
        ]
    )  # fmt: skip
    return Section(NAME, TITLE, markdown, {"files": rows, "summary": summary})
