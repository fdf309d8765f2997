"""Run the benchmarks (``make bench``) and print their Markdown sections.

.venv/bin/python -m bench.run_all                     # all of them
.venv/bin/python -m bench.run_all --only streaming    # one
.venv/bin/python -m bench.run_all --quick --out /tmp/bench   # fewer repetitions; save sections
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    concurrency,
    first_chunk,
    ingest_throughput,
    llm_transport,
    local_llm,
    ocr_scan,
    resume_overhead,
    server_rss,
    streaming_overhead,
    teaching_turn,
)
from bench.common import Section, code_version, command_line, load_average
from bench.context import Context

Runner = Callable[[Context], Section]
BENCHMARKS: dict[str, Runner] = {
    streaming_overhead.NAME: streaming_overhead.run,
    first_chunk.NAME: first_chunk.run,
    local_llm.NAME: local_llm.run,
    server_rss.NAME: server_rss.run,
    ingest_throughput.NAME: ingest_throughput.run,
    ocr_scan.NAME: ocr_scan.run,
    llm_transport.NAME: llm_transport.run,
    concurrency.NAME: concurrency.run,
    teaching_turn.NAME: teaching_turn.run,
    resume_overhead.NAME: resume_overhead.run,
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run_all", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--out", type=Path, help="also write <NAME>.md and <NAME>.json here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = args.only or list(BENCHMARKS)
    command = command_line()
    failed = 0
    start_code = code_version()  # the app code this process imported
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ctx = Context(Path(tmp), quick=args.quick)
        try:
            for name in names:
                started = datetime.now(UTC).isoformat(timespec="seconds")
                load, head = load_average(), code_version()
                code = start_code if head == start_code else f"{start_code} (HEAD: {head})"
                t0 = time.perf_counter()
                print(f"== {name} …", file=sys.stderr, flush=True)
                try:
                    section = BENCHMARKS[name](ctx)
                except Exception:
                    logging.exception("benchmark %s failed", name)
                    failed += 1
                    continue
                section.started, section.load_before, section.code = started, load, code
                section.seconds = time.perf_counter() - t0
                text = section.render(command)
                print(text, flush=True)
                if args.out:
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / f"{name}.md").write_text(text)
                    raw = {"command": command, "started": started, **section.raw}
                    (args.out / f"{name}.json").write_text(json.dumps(raw, indent=2))
        finally:
            ctx.close()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
