"""Run uvicorn from a finished set of options: in the ``tutor-serve`` process for one worker, or
as the supervising process of several.

With ``WORKERS`` > 1, ``tutor-serve`` (:mod:`app.serve`) reads and checks the settings, prepares
the workers' environment, then replaces itself (``exec``, same process id, so signals from a
process manager still reach it) with ``python -m app.supervise OPTIONS_JSON``. The supervisor
thus holds uvicorn and the logging set-up only (~27 MiB), not the settings machinery it would
never use again; each worker imports and builds the app itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn

from app.auth.redaction import redact_secrets_in_server_logs
from app.core.logging import configure_log_output

APP_FACTORY = "app.main:create_app_from_env"


def run(options: dict[str, Any], log_level: str, log_format: str) -> None:
    """``uvicorn.run`` with the app factory; JSON logs route uvicorn's loggers through ours."""
    configure_log_output(log_level, log_format)
    redact_secrets_in_server_logs()
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        log_level=log_level.lower(),
        log_config=None if log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        **options,
    )


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    run(spec["options"], spec["log_level"], spec["log_format"])


if __name__ == "__main__":
    main(sys.argv)
