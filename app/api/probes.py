"""Operator endpoints: ``/ready`` (can this replica answer?), ``/metrics`` (Prometheus) and
``/drain`` (loopback only; see :mod:`app.lifecycle`). ``/health`` (the process is up) stays in
the app factory."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep
from app.observability.metrics import CONTENT_TYPE
from app.state import Services

router = APIRouter()
PROBE_TIMEOUT_S = 2.0
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


async def _check(name: str, probe: Any) -> tuple[str, str]:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await probe
    except Exception as exc:
        return name, f"down ({type(exc).__name__})"
    return name, "ok"


async def _llm_answers(services: Services) -> None:
    """Any HTTP answer from the LLM base URL counts: the root of the API, not a model route
    (the local llama.cpp server serializes /v1/* behind a running generation)."""
    base = services.settings.llm_api_base or "https://api.openai.com/v1"
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as http:
        await http.get(base)


@router.get("/ready")
async def ready(services: ServicesDep) -> JSONResponse:
    checks = dict(
        await asyncio.gather(
            _check("redis", services.redis.ping()),
            _check("database", services.repository.ping()),
            _check("llm", _llm_answers(services)),
        )
    )
    if services.lifecycle.draining:
        checks["draining"] = "yes"
    ok = all(v == "ok" for k, v in checks.items() if k != "draining") and not (
        services.lifecycle.draining
    )
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503)  # fmt: skip


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    if services.metrics is None:
        raise HTTPException(404, "Metrics are switched off (METRICS_ENABLED=false).")
    body = await asyncio.to_thread(services.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


@router.get("/drain")
async def drain(request: Request, services: ServicesDep) -> dict[str, Any]:
    client = request.client.host if request.client else ""
    if client not in LOOPBACK:
        raise HTTPException(403, "Draining is only allowed from inside the container (loopback).")
    left = await services.lifecycle.drain(
        lambda: services.presence.local_chats, services.settings.shutdown_grace_seconds
    )
    return {"status": "drained" if left == 0 else "grace period over", "answers_running": left}
