"""Build the identity services once, in the lifespan, from the settings and the app's clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from app.auth.jwks import JwksCache
from app.auth.origin import OriginPolicy
from app.auth.revocation import Revocations
from app.auth.service import Authenticator
from app.auth.tickets import TicketStore
from app.auth.tokens import SessionSigner, TokenVerifier
from app.core.config import Settings


def read_or_create_secret(path: Path) -> str:
    """A random secret kept in ``path`` (0600), created once; workers racing share the winner's.

    Blocking file I/O: call it through ``asyncio.to_thread``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            with contextlib.suppress(FileExistsError):  # another worker won: use its secret
                os.link(tmp, path)  # atomic, and never a half-written file
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


async def session_secret(settings: Settings) -> str:
    if settings.auth_session_secret is not None:
        return settings.auth_session_secret.get_secret_value()
    return await asyncio.to_thread(
        read_or_create_secret, settings.data_dir / "auth" / "session-secret"
    )


async def build_authenticator(
    settings: Settings, client: aioredis.Redis, http: httpx.AsyncClient
) -> Authenticator:
    s = settings
    timeout = s.redis_timeout_seconds
    auth = Authenticator(
        settings=s,
        tickets=TicketStore(client, s.key_prefix, timeout),
        revocations=Revocations(
            client, s.key_prefix, s.auth_max_token_lifetime_seconds + s.auth_leeway_seconds, timeout
        ),
        origins=OriginPolicy(s.allowed_origins, s.public_url),
    )
    if s.auth_mode == "none":
        return auth
    jwks = None
    if s.auth_jwks_url:
        jwks = JwksCache(
            http, s.auth_jwks_url, s.auth_jwks_cache_seconds, s.auth_jwks_min_refresh_seconds
        )
    secret = await session_secret(s)
    auth.verifier = TokenVerifier(s, secret, jwks)
    auth.sessions = SessionSigner(secret, s.auth_audience, s.auth_session_ttl_seconds)
    if s.auth_mode == "lti":
        from app.auth.lti.tool import build_lti_tool

        auth.lti = await build_lti_tool(s, client, http, auth.revocations)
    return auth
