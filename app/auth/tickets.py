"""One-time tickets: how a browser, which cannot set headers on a WebSocket, proves who it is.

A ticket is 256 random bits handed out over an authenticated request (``POST /auth/ticket``) or
by an LTI launch redirect, stored in Redis (so any worker can redeem it) under the SHA-256 of its
value (a copy of Redis holds nothing usable), for seconds only, and deleted by the read that
redeems it (``GETDEL``: two workers racing on one ticket cannot both win). What it carries is the
principal it was issued to, including that principal's token times, so expiry and revocation
apply to a ticket exactly as to the token behind it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from app.auth.principal import Principal

TicketKind = Literal["ws", "launch"]


@dataclass(frozen=True)
class Ticket:
    principal: Principal
    course_id: str | None  # the course the ticket was issued for, if any


class TicketStore:
    def __init__(self, client: aioredis.Redis, prefix: str, timeout: float) -> None:
        self._client = client
        self._prefix = f"{prefix}:auth:ticket"
        self._timeout = timeout

    def _key(self, kind: TicketKind, ticket: str) -> str:
        digest = hashlib.sha256(ticket.encode()).hexdigest()
        return f"{self._prefix}:{kind}:{digest}"

    async def issue(
        self, kind: TicketKind, principal: Principal, course_id: str | None, ttl_seconds: int
    ) -> str:
        ticket = secrets.token_urlsafe(32)
        body = {
            "user_id": principal.user_id,
            "role": principal.role,
            "courses": sorted(principal.courses),
            "issued_at": principal.issued_at,
            "expires_at": principal.expires_at,
            "token_id": principal.token_id,
            "course_id": course_id,
        }
        async with asyncio.timeout(self._timeout):
            await self._client.set(self._key(kind, ticket), json.dumps(body), ex=ttl_seconds)
        return ticket

    async def redeem(self, kind: TicketKind, ticket: str) -> Ticket | None:
        """The ticket's principal, once; ``None`` when unknown, expired or already used."""
        if not ticket or len(ticket) > 128:
            return None
        async with asyncio.timeout(self._timeout):
            raw = await self._client.getdel(self._key(kind, ticket))
        if raw is None:
            return None
        body = json.loads(raw)
        principal = Principal(
            user_id=body["user_id"],
            role=body["role"],
            courses=frozenset(body["courses"]),
            issued_at=body["issued_at"],
            expires_at=body["expires_at"],
            token_id=body["token_id"],
        )
        return Ticket(principal, body["course_id"])
