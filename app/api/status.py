"""`GET /ws/status`: live numbers for every worker (presence and counters are in Redis)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException
from redis.exceptions import RedisError

from app.api.deps import OptionalPrincipalDep, ServicesDep
from app.auth.principal import Principal
from app.protocol.messages import ADDED_CLIENT_TYPES
from app.protocol.status import PerformanceStats, StatusResponse, SupportedFeatures
from app.services.presence import PresenceSnapshot
from app.state import Services

router = APIRouter()


@router.get("/ws/status", response_model=StatusResponse)
async def ws_status(services: ServicesDep, principal: OptionalPrincipalDep) -> StatusResponse:
    """Counts for everyone; who is connected only for staff: staff of every course see every
    user, staff of some courses the users connected to those courses (a connection across
    several courses counts for each), students nobody.

    AUTH_MODE=none keeps the open behaviour (the list for anyone), as nothing can be verified.
    """
    try:
        presence = await services.presence.snapshot()
        today = await services.stats.today()
    except (RedisError, OSError, TimeoutError) as exc:
        raise HTTPException(503, "Status unavailable: Redis is not reachable.") from exc
    s = services.settings
    return StatusResponse(
        active_connections=presence.connections,
        connected_users=_visible_users(services, principal, presence),
        server_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        uptime=int(time.time() - services.started_at),
        # `resume` only where answers are kept for it (RESUME_WINDOW_SECONDS > 0)
        added_message_types=[
            t for t in ADDED_CLIENT_TYPES if t != "resume" or services.turn_log is not None
        ],
        supported_features=SupportedFeatures(
            cache_integration=s.cache_enabled, personalization=s.personalization_enabled
        ),
        performance_stats=PerformanceStats(
            avg_response_time_ms=today["avg_response_time_ms"],
            cache_hit_rate=today["cache_hit_rate"],
            avg_tokens_per_response=today["avg_tokens_per_response"],
            active_chats=presence.active_chats,
            total_requests_today=int(today["total_requests_today"]),
        ),
    )


def _visible_users(
    services: Services, principal: Principal | None, presence: PresenceSnapshot
) -> list[str]:
    if not services.auth.enabled:
        return presence.users
    if principal is None or not principal.is_staff:
        return []
    if principal.all_courses:
        return presence.users
    return presence.users_in(principal.courses)
