"""`tutor-chat`: ask the course tutor from a terminal, or print its live status.

    tutor-chat ask "Apa itu VLAN?" --user student1 --course course_tik_01
    tutor-chat status --url http://127.0.0.1:8000

Exit codes: 0 answered; 1 the server answered with an error; 2 bad usage (e.g. an empty
question); 3 the server cannot be reached; 4 the server refused (token, course, user id).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TextIO

from tutor_client.client import (
    Backoff,
    ConnectionLostError,
    ConnectionRefusedByServerError,
    ServerUnreachableError,
    TutorClient,
    TutorError,
)
from tutor_client.protocol import ChatChunk, ChatResponse, ErrorMessage, StatusResponse

EXIT_OK, EXIT_ANSWER_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED = 0, 1, 2, 3, 4
DEFAULT_URL = "http://127.0.0.1:8000"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tutor-chat",
        description="Ask the course tutor from a terminal.",
        epilog="Exit codes: 0 answered, 1 error answer, 2 usage, 3 unreachable, 4 refused.",
    )
    parser.add_argument(
        "--url", default=os.environ.get("TUTOR_URL", DEFAULT_URL), help="server base URL"
    )
    parser.add_argument(
        "--token", default=os.environ.get("TUTOR_TOKEN"), help="bearer token (identity on)"
    )
    parser.add_argument("--json", action="store_true", help="print every frame as a JSON line")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="ask a question and stream the answer")
    ask.add_argument("question")
    ask.add_argument("--user", default=os.environ.get("TUTOR_USER"), help="user id")
    ask.add_argument("--course", default=os.environ.get("TUTOR_COURSE"), help="course id")
    ask.add_argument("--personalize", action="store_true", help="tailor to the user's profile")
    ask.add_argument("--room", help="chatroom id, to continue a conversation")
    status = sub.add_parser("status", help="print the server's live status")
    status.set_defaults(question=None)
    for sub_parser in (ask, status):  # also accept the global options after the command
        sub_parser.add_argument("--url", dest="url", default=argparse.SUPPRESS)
        sub_parser.add_argument("--token", dest="token", default=argparse.SUPPRESS)
        sub_parser.add_argument(
            "--json", dest="json", action="store_true", default=argparse.SUPPRESS
        )
    return parser


def _print_response(response: ChatResponse, out: TextIO) -> None:
    out.write("\n")
    tags = [
        name
        for name, on in (
            ("cached", response.cached),
            ("personalized", response.metadata.personalized),
            ("not covered", response.response_source == "not_covered"),
            ("curated by the lecturer", response.response_source == "curated"),
        )
        if on
    ]
    if tags:
        out.write(f"[{', '.join(tags)}]\n")
    if response.sources:
        out.write("\nSources:\n")
        for n, source in enumerate(response.sources, 1):
            meta = source.metadata
            out.write(
                f"  {n}. {meta.filename}, page {meta.page_label} (relevance {meta.score:.2f})\n"
            )
    usage = response.token_usage
    out.write(
        f"\nTokens: {usage.input_tokens} in, {usage.output_tokens} out "
        f"({usage.total_tokens} total) · cost ${usage.model_pricing.total_cost:.6f} · "
        f"{response.latency_ms:.0f} ms\n"
    )


async def _ask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    client = TutorClient(
        args.url,
        user_id=args.user,
        course_id=args.course,
        token=args.token,
        backoff=Backoff(attempts=3),  # a person is waiting: give up after about 2 s
    )
    try:
        async with client:
            async for event in client.ask(
                args.question, personalize=args.personalize, chatroom_id=args.room
            ):
                if args.json:
                    out.write(event.model_dump_json() + "\n")
                elif isinstance(event, ChatChunk):
                    out.write(event.chunk)
                elif isinstance(event, ChatResponse):
                    _print_response(event, out)
                if isinstance(event, ErrorMessage):
                    err.write(f"tutor-chat: {event.error_code}: {event.error}\n")
                    if event.suggestion:
                        err.write(f"  {event.suggestion}\n")
                    return EXIT_ANSWER_ERROR
                out.flush()
    except ConnectionRefusedByServerError as exc:
        err.write(f"tutor-chat: refused by {args.url}: {exc.message}\n")
        if exc.suggestion:
            err.write(f"  {exc.suggestion}\n")
        return EXIT_REFUSED
    except ServerUnreachableError as exc:
        err.write(f"tutor-chat: {exc.message}\n")
        return EXIT_UNREACHABLE
    except ConnectionLostError as exc:
        err.write(f"tutor-chat: the connection to {args.url} dropped: {exc.message}\n")
        return EXIT_UNREACHABLE
    return EXIT_OK


async def _status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        status: StatusResponse = await TutorClient(args.url, token=args.token).status()
    except ConnectionRefusedByServerError as exc:
        err.write(f"tutor-chat: refused by {args.url}: {exc.message}\n")
        return EXIT_REFUSED
    except ServerUnreachableError as exc:
        err.write(f"tutor-chat: {exc.message}\n")
        return EXIT_UNREACHABLE
    except TutorError as exc:
        err.write(f"tutor-chat: {exc.message}\n")
        return EXIT_ANSWER_ERROR
    if args.json:
        out.write(status.model_dump_json() + "\n")
        return EXIT_OK
    perf = status.performance_stats
    out.write(
        f"{args.url}: {status.websocket_status}, up {status.uptime} s\n"
        f"connections: {status.active_connections} · chats streaming: {perf.active_chats}\n"
        f"today: {perf.total_requests_today} questions · avg {perf.avg_response_time_ms:.0f} ms"
        f" · cache hit rate {perf.cache_hit_rate:.1%} · "
        f"{perf.avg_tokens_per_response:.0f} tokens per answer\n"
    )
    return EXIT_OK


def run(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "ask":
        args.question = args.question.strip()
        if not args.question:
            parser.error("the question is empty")
        if not args.user and not args.token:
            parser.error("say who is asking: --user (or TUTOR_USER), or --token")
        return asyncio.run(_ask(args, out, err))
    return asyncio.run(_status(args, out, err))


def main() -> None:
    try:
        sys.exit(run())
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
