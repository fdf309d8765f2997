"""`tutor-serve` as its own process tree (1..N uvicorn workers), configured through the environment
like a deployment, with the resident memory of the whole tree sampled from ``/proc``."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT
from bench.server_rss import free_port, server_env, wait_healthy

MIB = 1024.0


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (uvicorn's worker processes and their helpers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) summed over the tree. RSS counts shared pages once per process; PSS splits
    them between the processes that share them."""
    rss = pss = 0
    for member in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def tree_rss_kib(pid: int) -> int:
    return tree_kib(pid)[0]


@dataclass
class TreeSampler:
    pid: int
    interval: float = 0.1
    samples: list[int] = field(default_factory=list)
    pss_samples: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss = tree_kib(self.pid)
            self.samples.append(rss)
            self.pss_samples.append(pss)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return max(self.samples, default=0) / MIB

    @property
    def pss_peak_mib(self) -> float:
        return max(self.pss_samples, default=0) / MIB


@dataclass
class Server:
    base: str
    pid: int
    log: Path


@contextmanager
def tutor_serve(
    prefix: str, llm_url: str, data_dir: Path, model: str, **extra: str
) -> Iterator[Server]:
    """Start ``tutor-serve`` (env overrides in ``extra``: ``WORKERS="2"``…) and stop it after."""
    port = free_port()
    env = server_env(prefix, port, llm_url, data_dir)
    env.update(OPENAI_MODEL_COMPREHENSIVE=model, **extra)
    log_path = data_dir / "server.log"
    serve = Path(sys.executable).parent / "tutor-serve"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(serve)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, proc)
            yield Server(base, proc.pid, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def wait_workers_ready(server: Server, workers: int, seconds: float = 120.0) -> None:
    """/health answers as soon as one worker serves; wait until every worker has loaded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = server.log.read_text(errors="replace")
        if text.count("course tutor ready") >= workers:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{workers} workers did not all start")
