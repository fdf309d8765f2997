"""`tutor-serve` as a real server process (1..N uvicorn workers), configured by environment only,
for tests that need several processes against the same Redis and database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

OURS = ("OPENAI_", "REDIS_", "RAG_", "DATABASE_URL", "KEY_PREFIX", "EMBEDDING_", "CACHE_", "LOG_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve_process(
    folder: Path, env: dict[str, str], workers: int = 1, timeout: float = 120.0
) -> Iterator[ServerProcess]:
    """Start ``tutor-serve`` in ``folder`` (its cwd: no developer .env) and wait until every
    worker has started; SIGTERM and wait afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith(OURS)}
    clean.update(env, HOST="127.0.0.1", PORT=str(port), WORKERS=str(workers), LOG_LEVEL="INFO")
    clean.setdefault("DATA_DIR", str(folder))
    log = folder / f"server-{port}.log"
    serve = Path(sys.executable).parent / "tutor-serve"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(serve)], cwd=folder, env=clean, stdout=out, stderr=subprocess.STDOUT
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + timeout
        while server.log_text().count("course tutor ready") < workers or not _healthy(server):
            if process.poll() is not None:
                raise RuntimeError(f"tutor-serve exited {process.returncode}:\n{server.log_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"tutor-serve did not start:\n{server.log_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _healthy(server: ServerProcess) -> bool:
    try:
        return httpx.get(f"{server.url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
