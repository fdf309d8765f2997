"""What identity costs: handshake latency by mode, and the checks added to every question.

Four servers run side by side in this process, one per way of connecting: ``AUTH_MODE=none``
(claimed user id), a bearer HS256 token, a bearer RS256 token verified against a JWKS served over
HTTP, and a one-time ticket (``POST /auth/ticket`` and then the socket, both counted). Connections
are made round-robin across them, so machine noise hits all alike; each sample is the time from
opening the socket to receiving the ``connection`` frame. Then the per-question checks (expiry and
revocation, and the moving-window limits with the connection-slot refresh) are timed directly
against the same Redis.

    python -m bench.auth_overhead --connections 150
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import websockets

from app.auth.abuse import AbuseLimits
from app.auth.build import build_authenticator
from app.auth.principal import Principal
from app.core.redis import async_client
from app.main import create_app
from bench.common import REDIS_URL, bench_settings, drop_prefix, median, new_prefix
from tests.support.auth import SECRET, mint, running_lms
from tests.support.client import stream_url
from tests.support.live_server import live_server

UNUSED_LLM = "http://127.0.0.1:9/v1"  # no question is asked


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.9 * (len(ordered) - 1))]


Way = Callable[[], Awaitable[tuple[str, dict[str, str]]]]


async def timed(way: Way) -> float:
    """Milliseconds from asking for a socket (ticket included) to its ``connection`` frame."""
    started = time.perf_counter()
    url, headers = await way()
    async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
        frame = await ws.recv()
    elapsed = (time.perf_counter() - started) * 1000
    assert '"connection"' in str(frame), frame
    return elapsed


async def handshakes(urls: dict[str, str], rsa_token: str, rounds: int) -> dict[str, list[float]]:
    hs = mint("bench-user", courses="*")
    async with httpx.AsyncClient() as http:

        async def none() -> tuple[str, dict[str, str]]:
            return stream_url(urls["none"], user_id="bench-user"), {}

        async def hs256() -> tuple[str, dict[str, str]]:
            return stream_url(urls["hs"]), {"Authorization": f"Bearer {hs}"}

        async def rs256() -> tuple[str, dict[str, str]]:
            return stream_url(urls["rs"]), {"Authorization": f"Bearer {rsa_token}"}

        async def ticket() -> tuple[str, dict[str, str]]:
            r = await http.post(
                f"{urls['ticket']}/auth/ticket", headers={"Authorization": f"Bearer {hs}"}
            )
            return stream_url(urls["ticket"], ticket=r.json()["ticket"]), {}

        ways: dict[str, Way] = {
            "none (claimed user_id)": none,
            "bearer HS256": hs256,
            "bearer RS256 (JWKS)": rs256,
            "ticket (POST + socket)": ticket,
        }
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for index in range(rounds + 5):
            for name, way in ways.items():
                value = await timed(way)
                if index >= 5:  # warm-up
                    samples[name].append(value)
    return samples


async def per_question(prefix: str, data_dir: Path, calls: int) -> dict[str, list[float]]:
    settings = bench_settings(prefix, data_dir, auth_mode="token", auth_jwt_secret=SECRET,
                              rate_limit_requests=10**6, rate_limit_ip_requests=10**6)  # fmt: skip
    client = async_client(REDIS_URL, 5.0)
    async with httpx.AsyncClient() as http:
        auth = await build_authenticator(settings, client, http)
        limits = AbuseLimits(client, settings)
        principal = Principal("q-user", courses=frozenset({"c1"}), issued_at=time.time(),
                              expires_at=time.time() + 600, token_id="jti-1")  # fmt: skip
        await limits.connect("slot-1", "q-user", "10.0.0.1")
        out: dict[str, list[float]] = {"expiry + revocation": [], "limits + slot refresh": []}
        for _ in range(calls):
            t0 = time.perf_counter()
            await auth.recheck(principal, "c1")
            t1 = time.perf_counter()
            await limits.touch("slot-1", "q-user", "10.0.0.1")
            await limits.question("q-user", "10.0.0.1")
            t2 = time.perf_counter()
            out["expiry + revocation"].append((t1 - t0) * 1000)
            out["limits + slot refresh"].append((t2 - t1) * 1000)
    await client.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=150)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    prefixes = [new_prefix("auth") for _ in range(5)]
    try:
        with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
            idp = stack.enter_context(running_lms())
            common = {"openai_api_base": UNUSED_LLM, "ws_max_connections_per_user": 0,
                      "ws_max_connections_per_ip": 0, "cache_enabled": False}  # fmt: skip
            token = {"auth_mode": "token", "auth_jwt_secret": SECRET,
                     "auth_jwks_url": f"{idp.url}/jwks"}  # fmt: skip
            modes = {"none": {}, "hs": token, "rs": token, "ticket": token}
            urls = {}
            for (name, extra), prefix in zip(modes.items(), prefixes, strict=False):
                settings = bench_settings(prefix, Path(tmp) / name, **common, **extra)
                urls[name] = stack.enter_context(live_server(create_app(settings)))
            rsa_claims = {"sub": "bench-user", "courses": "*", "aud": "course-tutor",
                          "exp": int(time.time()) + 3000}  # fmt: skip
            samples = asyncio.run(handshakes(urls, idp.keys.sign(rsa_claims), args.connections))
            checks = asyncio.run(per_question(prefixes[4], Path(tmp) / "q", args.calls))
    finally:
        for prefix in prefixes:
            drop_prefix(prefix)
    base = median(samples["none (claimed user_id)"])
    print(f"| handshake ({args.connections} each, round-robin) | median ms | p90 ms | vs none |")
    print("|---|---|---|---|")
    for name, values in samples.items():
        print(
            f"| {name} | {median(values):.2f} | {p90(values):.2f} | {median(values) / base:.2f}x |"
        )
    print(f"\n| per question ({args.calls} calls) | median ms | p90 ms |")
    print("|---|---|---|")
    for name, values in checks.items():
        print(f"| {name} | {median(values):.3f} | {p90(values):.3f} |")


if __name__ == "__main__":
    main()
