"""LTI 1.3 core launch, tool side: OIDC login, then a verified ``id_token`` becomes a Principal.

State lives in Redis, not in a cookie (LMSs embed the tool in an iframe, where browsers may block
third-party cookies); the browser holds only a hash of it (:mod:`app.auth.lti.binding`), so a
launch is accepted only from the browser that started the login. ``/lti/login`` stores
``state → (issuer, client_id, nonce)`` for ``LTI_STATE_TTL_SECONDS``; ``/lti/launch`` takes
it back with ``GETDEL`` (a state works once), checks that the token's ``nonce`` is the one bound
to that state and never seen before, then verifies the ``id_token`` with PyJWT against the
platform's JWKS: RS256, ``iss``, ``aud`` = client_id (and ``azp`` when several audiences),
``exp``/``iat`` with leeway, LTI version and message type, an allow-listed deployment id.
Roles map fail-closed; the context must map to a course.

Roster changes feed revocation: a launch that is refused for its role, or that comes with a lower
role than before, revokes the user's earlier sessions for that course.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import redis.asyncio as aioredis
from jwt.exceptions import InvalidTokenError

from app.auth.jwks import JwksCache, UnknownKeyError
from app.auth.lti.keys import ToolKey, load_or_create_key
from app.auth.lti.platforms import Platform, load_platforms
from app.auth.lti.roles import map_role
from app.auth.lti.roster import RosterSync
from app.auth.principal import Principal, Role
from app.auth.revocation import Revocations
from app.core.config import Settings
from app.core.identifiers import USER_ID
from app.protocol.errors import ErrorCode, ProtocolError

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


@dataclass(frozen=True)
class LoginRedirect:
    url: str  # the platform's authorization endpoint, with state and nonce
    state: str  # bound to the browser by a cookie (app.auth.lti.binding)


def unauthorized(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.UNAUTHORIZED, message)


def forbidden(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, message)


def user_id_for(platform: Platform, sub: str) -> str:
    """``<platform>:<sub>``, unique across platforms; a sub our ids cannot hold is hashed."""
    candidate = f"{platform.name}:{sub}"
    if USER_ID.fullmatch(candidate):
        return candidate
    return f"{platform.name}:h{hashlib.sha256(sub.encode()).hexdigest()[:40]}"


@dataclass(frozen=True)
class Launch:
    principal: Principal
    course_id: str
    platform: str


class LtiTool:
    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        platforms: list[Platform],
        keys: dict[str, JwksCache],
        tool_key: ToolKey,
        revocations: Revocations,
        roster: RosterSync,
    ) -> None:
        self._settings = settings
        self.roster = roster
        self._client = client
        self._prefix = f"{settings.key_prefix}:lti"
        self._platforms = platforms
        self._keys = keys
        self.tool_key = tool_key
        self._revocations = revocations
        self._timeout = settings.redis_timeout_seconds

    def _platform(self, issuer: str, client_id: str | None) -> Platform:
        for platform in self._platforms:
            if platform.issuer == issuer and client_id in (None, platform.client_id):
                return platform
        raise unauthorized("This LMS (issuer / client id) is not registered with the tutor.")

    # --- OIDC login initiation -------------------------------------------------------------------
    async def login(self, params: dict[str, str], redirect_uri: str) -> LoginRedirect:
        """The platform's authorization URL to redirect the browser to, and the state in it."""
        issuer, hint = params.get("iss"), params.get("login_hint")
        if not issuer or not hint:
            raise unauthorized("An LTI login needs iss and login_hint.")
        platform = self._platform(issuer, params.get("client_id"))
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        saved = {"iss": platform.issuer, "client_id": platform.client_id, "nonce": nonce}
        async with asyncio.timeout(self._timeout):
            await self._client.set(
                f"{self._prefix}:state:{state}",
                json.dumps(saved),
                ex=self._settings.lti_state_ttl_seconds,
            )
        query = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": redirect_uri,
            "login_hint": hint,
            "state": state,
            "nonce": nonce,
        }
        if params.get("lti_message_hint"):
            query["lti_message_hint"] = params["lti_message_hint"]
        separator = "&" if "?" in platform.auth_login_url else "?"
        return LoginRedirect(f"{platform.auth_login_url}{separator}{urlencode(query)}", state)

    # --- launch ----------------------------------------------------------------------------------
    async def _take_state(self, state: str) -> dict[str, str]:
        if not state or len(state) > 128:
            raise unauthorized("The launch has no valid state.")
        async with asyncio.timeout(self._timeout):
            raw = await self._client.getdel(f"{self._prefix}:state:{state}")
        if raw is None:
            raise unauthorized("The LTI login expired or was already used; launch again.")
        saved: dict[str, str] = json.loads(raw)
        return saved

    async def _verify(self, id_token: str, platform: Platform) -> dict[str, Any]:
        s = self._settings
        try:
            header = jwt.get_unverified_header(id_token)
        except InvalidTokenError as exc:
            raise unauthorized("The id_token is not a well-formed JWT.") from exc
        if header.get("alg") != "RS256":
            raise unauthorized("LTI id_tokens must be signed with RS256.")
        kid = header.get("kid")
        try:
            key = await self._keys[platform.name].key_for(
                kid if isinstance(kid, str) else None, "RS256"
            )
        except UnknownKeyError as exc:
            raise unauthorized(
                "The id_token is signed with a key the LMS does not publish."
            ) from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256"],
                audience=platform.client_id,
                issuer=platform.issuer,
                leeway=s.auth_leeway_seconds,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "nonce"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("The launch has expired; launch again from the LMS.") from exc
        except jwt.InvalidAudienceError as exc:
            raise unauthorized("The launch was meant for another tool (aud).") from exc
        except InvalidTokenError as exc:
            raise unauthorized(f"The launch is not valid ({type(exc).__name__}).") from exc
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != platform.client_id:
            raise unauthorized("The launch names several audiences but not this tool as azp.")
        return claims

    async def _use_nonce(self, nonce: object, expected: str) -> None:
        if not isinstance(nonce, str) or not secrets.compare_digest(nonce, expected):
            raise unauthorized("The launch's nonce does not belong to its login.")
        digest = hashlib.sha256(nonce.encode()).hexdigest()
        async with asyncio.timeout(self._timeout):
            fresh = await self._client.set(
                f"{self._prefix}:nonce:{digest}",
                "1",
                nx=True,
                ex=self._settings.lti_state_ttl_seconds + self._settings.auth_leeway_seconds,
            )
        if not fresh:
            raise unauthorized("This launch was already used (replayed nonce).")

    async def launch(self, id_token: str, state: str) -> Launch:
        saved = await self._take_state(state)
        platform = self._platform(saved["iss"], saved["client_id"])
        claims = await self._verify(id_token, platform)
        await self._use_nonce(claims.get("nonce"), saved["nonce"])
        if claims.get(CLAIM + "version") != "1.3.0":
            raise unauthorized("Only LTI 1.3.0 launches are supported.")
        if claims.get(CLAIM + "message_type") != "LtiResourceLinkRequest":
            raise unauthorized("Only resource link launches are supported.")
        if claims.get(CLAIM + "deployment_id") not in platform.deployment_ids:
            raise unauthorized("This deployment of the tool is not allow-listed.")
        user_id = user_id_for(platform, str(claims["sub"]))
        context = claims.get(CLAIM + "context")
        context_id = str(context.get("id", "")) if isinstance(context, dict) else ""
        course_id = platform.contexts.get(context_id)
        if course_id is None:
            raise forbidden("This LMS course is not connected to a tutor course.")
        role = map_role(claims.get(CLAIM + "roles"))
        await self._roster_change(user_id, course_id, role)
        await self.roster.remember(platform, course_id, claims)
        if role is None:
            raise forbidden("Your role in this LMS course gives no access to the tutor.")
        principal = Principal(user_id, role, frozenset({course_id}), issued_at=time.time())
        return Launch(principal, course_id, platform.name)

    async def _roster_change(self, user_id: str, course_id: str, role: Role | None) -> None:
        """No role any more, or a lower one than last time: revoke the earlier sessions."""
        key = f"{self._prefix}:role:{course_id}:{user_id}"
        async with asyncio.timeout(self._timeout):
            if role is None:
                await self._client.delete(key)
            else:
                previous = await self._client.set(
                    key, role, ex=self._settings.auth_max_token_lifetime_seconds, get=True
                )
        if role is None or (previous == b"staff" and role == "student"):
            await self._revocations.revoke(user_id, course_id)


async def build_lti_tool(
    settings: Settings, client: aioredis.Redis, http: httpx.AsyncClient, revocations: Revocations
) -> LtiTool:
    s = settings
    platforms = await asyncio.to_thread(load_platforms, s.lti_platforms_file, s.courses_dir)
    key_path = s.lti_private_key_file or s.data_dir / "lti" / "tool-key.pem"
    tool_key = await asyncio.to_thread(load_or_create_key, key_path)
    keys = {
        p.name: JwksCache(
            http, p.jwks_url, s.auth_jwks_cache_seconds, s.auth_jwks_min_refresh_seconds
        )
        for p in platforms
    }
    roster = RosterSync(s, client, http, platforms, tool_key, revocations)
    return LtiTool(s, client, platforms, keys, tool_key, revocations, roster)
