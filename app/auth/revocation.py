"""Revocations that reach connections already open: checked again on every question.

A revocation says "credentials of this user issued before now no longer count" — for one course
(the student was removed from it) or for everything (the account was disabled), or for one token
id. It is a timestamp, not a ban: a token the issuer signs *after* the revocation is valid again,
because the issuer (identity provider or LMS) is where enrolment lives. To keep someone out for
good, remove the enrolment there. Entries live as long as the longest token the server accepts
(``AUTH_MAX_TOKEN_LIFETIME_SECONDS``), after which every token they could apply to has expired.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from app.auth.principal import Principal


@dataclass(frozen=True)
class RevocationVerdict:
    account: bool  # the user's credentials are revoked everywhere (or this token is)
    courses: frozenset[str]  # the courses asked about that the user lost access to

    @property
    def course(self) -> bool:
        return bool(self.courses)


class Revocations:
    def __init__(
        self, client: aioredis.Redis, prefix: str, keep_seconds: int, timeout: float
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}:auth:revoked"
        self._keep = keep_seconds
        self._timeout = timeout

    def _user_key(self, user_id: str) -> str:
        return f"{self._prefix}:user:{user_id}"

    def _course_key(self, user_id: str, course_id: str) -> str:
        return f"{self._prefix}:course:{course_id}:{user_id}"

    def _token_key(self, token_id: str) -> str:
        return f"{self._prefix}:token:{token_id}"

    async def revoke(
        self, user_id: str | None, course_id: str | None = None, token_id: str | None = None
    ) -> float:
        """Record a revocation now; returns its time."""
        now = time.time()
        keys = []
        if token_id is not None:
            keys.append(self._token_key(token_id))
        if user_id is not None:
            keys.append(
                self._course_key(user_id, course_id) if course_id else self._user_key(user_id)
            )
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.set(key, repr(now), ex=self._keep)
                await pipe.execute()
        return now

    async def check(
        self, principal: Principal, courses: str | Iterable[str] | None
    ) -> RevocationVerdict:
        """Revocations that apply to ``principal`` (and to each of ``courses``) now."""
        if not principal.authenticated:
            return RevocationVerdict(False, frozenset())
        asked = [courses] if isinstance(courses, str) else sorted(set(courses or ()))
        wanted = {"user": self._user_key(principal.user_id)}
        for course_id in asked:
            wanted[f"course:{course_id}"] = self._course_key(principal.user_id, course_id)
        if principal.token_id:
            wanted["token"] = self._token_key(principal.token_id)
        async with asyncio.timeout(self._timeout):
            values = await self._client.mget(list(wanted.values()))
        found = dict(zip(wanted, values, strict=True))
        issued = principal.issued_at if principal.issued_at is not None else float("-inf")

        def after_issue(name: str) -> bool:
            value = found.get(name)
            return value is not None and issued < float(value)

        return RevocationVerdict(
            account=found.get("token") is not None or after_issue("user"),
            courses=frozenset(c for c in asked if after_issue(f"course:{c}")),
        )
