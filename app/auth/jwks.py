"""Public keys of a token issuer (an identity provider, an LMS), fetched from its JWKS URL.

PyJWT's own ``PyJWKClient`` fetches with ``urllib`` and would block the event loop, so keys are
fetched here with the app's ``httpx.AsyncClient`` under a timeout and parsed with PyJWT's
``PyJWKSet``. Keys are trusted for ``cache_seconds``; a token naming a ``kid`` we do not know
triggers one re-fetch (issuers rotate keys by publishing the new one first), but at most once per
``min_refresh_seconds``, so a flood of forged ``kid`` values cannot turn into a flood of fetches.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKSetError

from app.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)
FETCH_TIMEOUT_SECONDS = 5.0


class UnknownKeyError(LookupError):
    """No key of the issuer matches the token's ``kid`` (even after a re-fetch)."""


class JwksCache:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        cache_seconds: float,
        min_refresh_seconds: float,
    ) -> None:
        self._http = http
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._keys: list[PyJWK] = []
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return self._url

    async def _refresh(self) -> None:
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
                response = await self._http.get(self._url, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, TimeoutError, ValueError, PyJWKSetError) as exc:
            log.warning("JWKS fetch from %s failed: %s", self._url, type(exc).__name__)
            if not self._keys:
                raise ProtocolError(
                    ErrorCode.SERVICE_UNAVAILABLE,
                    "The signing keys of the token issuer cannot be fetched right now.",
                ) from exc
            return  # keep serving the keys we have
        self._keys = keys
        self._fetched_at = time.monotonic()
        log.info("JWKS from %s: %d keys", self._url, len(keys))

    def _find(self, kid: str | None, algorithm: str) -> PyJWK | None:
        usable = [k for k in self._keys if k.algorithm_name == algorithm]
        if kid is None:
            return usable[0] if len(usable) == 1 else None
        return next((k for k in usable if k.key_id == kid), None)

    async def key_for(self, kid: str | None, algorithm: str) -> PyJWK:
        """The key that must have signed a token with this header, or :class:`UnknownKeyError`."""
        age = time.monotonic() - self._fetched_at
        key = self._find(kid, algorithm) if age < self._cache_seconds else None
        if key is not None:
            return key
        async with self._lock:
            key = self._find(kid, algorithm)
            age = time.monotonic() - self._fetched_at
            if (key is None and age >= self._min_refresh) or age >= self._cache_seconds:
                await self._refresh()
                key = self._find(kid, algorithm)
        if key is None:
            raise UnknownKeyError(kid)
        return key
