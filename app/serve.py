"""`tutor-serve`: start uvicorn with the settings' workers, and nothing else.

With ``WORKERS`` > 1 this process only supervises: each worker imports and builds the app itself.
So this module imports no part of the app but the settings (the app's imports alone are ~150 MiB
of memory, which the supervising process has no use for); it checks them, prepares what the
workers inherit through the environment, then becomes the lean supervisor of :mod:`app.supervise`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from app.auth.bind import InsecureBindError, check_bind
from app.core.config import Settings, get_settings
from app.supervise import run

# A worker loading its models on a busy machine can miss uvicorn's default 5 s liveness ping;
# the supervisor would then kill and respawn it forever, and no worker would ever serve.
WORKER_HEALTHCHECK_SECONDS = 120
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_environment(settings: Settings) -> None:
    # The embedding model's OpenMP threads spin while idle by default; with the local LLM on the
    # same cores that turned single question embeddings into 1-2.6 s stalls (docs/benchmarks.md).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # OpenMP reads this once, when the model library loads in each worker: the workers share the
    # cores instead of each claiming all of them.
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.embedding_thread_count))
    # glibc gives every thread its own malloc arena; the worker threads that embed and read the
    # database would otherwise each keep tens of MiB.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    if settings.metrics_enabled and settings.workers > 1:  # every worker writes, /metrics merges
        folder = settings.resolved_metrics_dir
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        os.environ[MULTIPROC_ENV] = str(folder)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What uvicorn is told besides the app and the logging (JSON-serialisable: see ``main``)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "ws": "websockets-sansio",
        "ws_max_size": max(1 << 20, settings.ws_max_message_bytes * 4),
        "ws_per_message_deflate": settings.ws_compression,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds) or None,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }


def main() -> None:
    settings = get_settings()
    try:
        check_bind(settings, settings.host)
    except InsecureBindError as exc:
        raise SystemExit(str(exc)) from None
    prepare_environment(settings)
    options = uvicorn_options(settings)
    if settings.workers > 1:
        # Become a lean supervisor: same pid, none of the settings' imports (~15 MiB less).
        spec = {
            "options": options,
            "log_level": settings.log_level,
            "log_format": settings.log_format,
        }
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "app.supervise", json.dumps(spec)])
    run(options, settings.log_level, settings.log_format)


if __name__ == "__main__":
    main()
