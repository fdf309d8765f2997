"""Roster sync over LTI Names and Role Provisioning (NRPS 2.0): removals reach open sessions.

A launch tells the tool where the course's membership list lives (the NRPS claim); the tool keeps
that URL per course. A sync asks the platform for an access token (OAuth 2 client credentials,
authenticated by a JWT signed with the tool's own key, the one ``/lti/jwks`` publishes), reads the
membership pages, and compares them with the users who have launched into the course: anyone no
longer an active member with a mapped role, or demoted from staff to student, has their earlier
sessions for the course revoked, so their next question gets ``FORBIDDEN``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass

import httpx
import jwt
import redis.asyncio as aioredis

from app.auth.lti.keys import ToolKey
from app.auth.lti.platforms import Platform
from app.auth.lti.roles import map_role
from app.auth.revocation import Revocations
from app.core.config import Settings
from app.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_PAGES = 100
HTTP_TIMEOUT = 15.0


@dataclass(frozen=True)
class SyncResult:
    course_id: str
    members: int
    revoked: list[str]


class RosterSync:
    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        http: httpx.AsyncClient,
        platforms: list[Platform],
        tool_key: ToolKey,
        revocations: Revocations,
    ) -> None:
        self._settings = settings
        self._client = client
        self._http = http
        self._platforms = {p.name: p for p in platforms}
        self._key = tool_key
        self._revocations = revocations
        self._prefix = f"{settings.key_prefix}:lti"
        self._timeout = settings.redis_timeout_seconds

    def _roster_key(self, course_id: str) -> str:
        return f"{self._prefix}:roster:{course_id}"

    async def remember(self, platform: Platform, course_id: str, claims: dict[str, object]) -> None:
        """Keep the course's membership URL from a launch (the latest launch wins)."""
        service = claims.get(NRPS_CLAIM)
        url = service.get("context_memberships_url") if isinstance(service, dict) else None
        if not isinstance(url, str) or platform.auth_token_url is None:
            return
        async with asyncio.timeout(self._timeout):
            await self._client.hset(self._roster_key(course_id), platform.name, url)  # type: ignore[misc]

    async def _access_token(self, platform: Platform) -> str:
        assert platform.auth_token_url is not None
        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": platform.client_id,
                "sub": platform.client_id,
                "aud": platform.auth_token_url,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            },
            self._key.private,
            algorithm="RS256",
            headers={"kid": self._key.kid},
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": NRPS_SCOPE,
        }
        async with asyncio.timeout(HTTP_TIMEOUT):
            response = await self._http.post(platform.auth_token_url, data=form)
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    async def _members(self, platform: Platform, url: str) -> list[dict[str, object]]:
        token = await self._access_token(platform)
        headers = {"Authorization": f"Bearer {token}", "Accept": NRPS_MEDIA}
        members: list[dict[str, object]] = []
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if next_url is None:
                break
            async with asyncio.timeout(HTTP_TIMEOUT):
                response = await self._http.get(next_url, headers=headers)
            response.raise_for_status()
            members += [m for m in response.json().get("members", []) if isinstance(m, dict)]
            next_link = response.links.get("next")
            next_url = next_link.get("url") if next_link else None
        return members

    async def sync(self, course_id: str) -> SyncResult:
        async with asyncio.timeout(self._timeout):
            sources = await self._client.hgetall(self._roster_key(course_id))  # type: ignore[misc]
        if not sources:
            raise ProtocolError(
                ErrorCode.INVALID_PARAMETER,
                f"No roster is known for course {course_id!r} yet: it is learned from a launch "
                "by a platform that offers the names and roles service.",
            )
        revoked: list[str] = []
        total = 0
        for raw_name, raw_url in sources.items():
            platform = self._platforms.get(raw_name.decode())
            if platform is None or platform.auth_token_url is None:
                continue
            try:
                members = await self._members(platform, raw_url.decode())
            except (httpx.HTTPError, TimeoutError, KeyError, ValueError) as exc:
                log.warning("roster of %s from %s failed: %s", course_id, platform.name, exc)
                raise ProtocolError(
                    ErrorCode.SERVICE_UNAVAILABLE, "The LMS did not return the course roster."
                ) from exc
            total += len(members)
            revoked += await self._apply(platform, course_id, members)
        return SyncResult(course_id, total, revoked)

    async def _apply(
        self, platform: Platform, course_id: str, members: list[dict[str, object]]
    ) -> list[str]:
        active = {
            f"{platform.name}:{m.get('user_id')}": map_role(m.get("roles"))
            for m in members
            if m.get("status", "Active") == "Active"
        }
        pattern = f"{self._prefix}:role:{course_id}:{platform.name}:*"
        revoked = []
        async with asyncio.timeout(self._timeout):
            known = [k async for k in self._client.scan_iter(match=pattern, count=500)]
            roles = await self._client.mget(known) if known else []
        for key, before in zip(known, roles, strict=True):
            user_id = key.decode()[len(f"{self._prefix}:role:{course_id}:") :]
            now = active.get(user_id)
            demoted = before == b"staff" and now == "student"
            if now is None or demoted:
                await self._revocations.revoke(user_id, course_id)
                async with asyncio.timeout(self._timeout):
                    if now is None:
                        await self._client.delete(key)
                    else:
                        await self._client.set(key, now, keepttl=True)
                revoked.append(user_id)
        log.info("roster %s/%s: %d members, revoked %s", platform.name, course_id, len(members),
                 json.dumps(revoked))  # fmt: skip
        return revoked

    async def sync_all(self) -> list[SyncResult]:
        """Every course a launch told us the roster of; failures are logged, the rest go on."""
        async with asyncio.timeout(self._timeout):
            keys = [k async for k in self._client.scan_iter(match=f"{self._prefix}:roster:*")]
        results = []
        for key in keys:
            course_id = key.decode().rsplit(":", 1)[-1]
            try:
                results.append(await self.sync(course_id))
            except ProtocolError as exc:
                log.warning("roster sync of %s: %s", course_id, exc.message)
        return results

    async def run(self, interval: float) -> None:
        """Background loop (``LTI_ROSTER_SYNC_SECONDS``): one worker per interval does the sync."""
        while True:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(self._timeout):
                    mine = await self._client.set(
                        f"{self._prefix}:roster-lock", "1", nx=True, ex=max(1, int(interval))
                    )
                if mine:
                    await self.sync_all()
            except (OSError, TimeoutError, aioredis.RedisError):
                log.warning("roster sync skipped: Redis unavailable")
