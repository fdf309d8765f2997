"""Signed tokens in, a :class:`Principal` out: the only place a JWT is verified or issued.

Two kinds of bearer token are accepted. Tokens of the institution's identity provider
(``AUTH_MODE=token``): HS256 with ``AUTH_JWT_SECRET`` or RS256/ES256 with keys from
``AUTH_JWKS_URL``. And the short session tokens this server signs itself after an LTI launch
(``POST /auth/session``), told apart by their issuer and signed with their own secret. Each
algorithm is tied to its key type, so a public key can never be used as an HMAC secret.

Claims: ``sub`` (user id), ``courses`` (list of course ids, ``"*"`` = every course), ``role``
(``student`` | ``staff``; absent = ``student``), ``exp`` (required), ``aud`` (must equal
``AUTH_AUDIENCE``), ``iss`` (must equal ``AUTH_ISSUER`` when set), optional ``iat``, ``nbf`` and
``jti``. A token valid for longer than ``AUTH_MAX_TOKEN_LIFETIME_SECONDS`` from now is refused, so
a revocation (kept that long) always outlives the tokens it revokes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError

from app.auth.jwks import JwksCache, UnknownKeyError
from app.auth.principal import ALL_COURSES, Principal, Role
from app.core.config import Settings
from app.core.identifiers import InvalidIdentifierError, normalize_course_id, normalize_user_id
from app.protocol.errors import ErrorCode, ProtocolError

SESSION_ISSUER = "course-tutor/session"
SESSION_ALGORITHM = "HS256"
ASYMMETRIC = ("RS256", "ES256")
ROLES: tuple[Role, ...] = ("student", "staff")


def unauthorized(reason: str) -> ProtocolError:
    return ProtocolError(ErrorCode.UNAUTHORIZED, reason)


def parse_courses(value: object) -> frozenset[str]:
    """The ``courses`` claim: a list of course ids, or ``"*"`` alone for every course."""
    if value == ALL_COURSES:
        return frozenset({ALL_COURSES})
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise unauthorized('The token\'s "courses" claim must be a list of course ids or "*".')
    courses = set()
    for course in value:
        if course == ALL_COURSES:
            courses.add(ALL_COURSES)
            continue
        try:
            courses.add(normalize_course_id(course))
        except InvalidIdentifierError as exc:
            raise unauthorized(f'The token\'s "courses" claim is invalid: {exc}') from exc
    return frozenset(courses)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        user_id = normalize_user_id(str(claims.get("sub") or ""))
    except InvalidIdentifierError as exc:
        raise unauthorized(f'The token\'s "sub" is not a usable user id: {exc}') from exc
    role = claims.get("role", "student")
    if role not in ROLES:
        raise unauthorized('The token\'s "role" must be "student" or "staff".')
    issued = claims.get("iat")
    return Principal(
        user_id=user_id,
        role=role,
        courses=parse_courses(claims.get("courses", [])),
        issued_at=float(issued) if isinstance(issued, int | float) else None,
        expires_at=float(claims["exp"]),
        token_id=claims.get("jti") if isinstance(claims.get("jti"), str) else None,
    )


class TokenVerifier:
    """Verifies bearer tokens; built once per app from the settings."""

    def __init__(
        self, settings: Settings, session_secret: str, jwks: JwksCache | None = None
    ) -> None:
        self._settings = settings
        self._session_secret = session_secret
        secret = settings.auth_jwt_secret
        self._secret = secret.get_secret_value() if secret else None
        self._jwks = jwks

    @property
    def accepts_provider_tokens(self) -> bool:
        return self._secret is not None or self._jwks is not None

    def _decode(self, token: str, key: Any, algorithm: str, issuer: str | None) -> dict[str, Any]:
        s = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=s.auth_audience,
                issuer=issuer,
                leeway=s.auth_leeway_seconds,
                options={"require": ["exp", "sub", "aud"], "verify_iss": issuer is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("The token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise unauthorized("The token is not meant for this server (aud).") from exc
        except jwt.InvalidIssuerError as exc:
            raise unauthorized(
                "The token comes from an issuer this server does not trust."
            ) from exc
        except jwt.InvalidSignatureError as exc:
            raise unauthorized("The token's signature is not valid.") from exc
        except InvalidTokenError as exc:
            raise unauthorized(f"The token is not valid ({type(exc).__name__}).") from exc
        if float(claims["exp"]) > time.time() + s.auth_max_token_lifetime_seconds:
            raise unauthorized(
                "The token lives longer than this server accepts "
                f"({s.auth_max_token_lifetime_seconds} s); issue shorter-lived tokens."
            )
        return claims

    async def verify(self, token: str) -> Principal:
        """The principal of a bearer token, or ``ProtocolError(UNAUTHORIZED)``."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except InvalidTokenError as exc:
            raise unauthorized("The token is not a well-formed JWT.") from exc
        algorithm = header.get("alg")
        if unverified.get("iss") == SESSION_ISSUER:
            if algorithm != SESSION_ALGORITHM:
                raise unauthorized("The session token uses an unexpected algorithm.")
            claims = self._decode(token, self._session_secret, SESSION_ALGORITHM, SESSION_ISSUER)
            return principal_from_claims(claims)
        issuer = self._settings.auth_issuer
        if algorithm == "HS256" and self._secret is not None:
            return principal_from_claims(self._decode(token, self._secret, "HS256", issuer))
        if algorithm in ASYMMETRIC and self._jwks is not None:
            kid = header.get("kid")
            try:
                key = await self._jwks.key_for(kid if isinstance(kid, str) else None, algorithm)
            except UnknownKeyError as exc:
                raise unauthorized(
                    "The token is signed with a key this server does not know."
                ) from exc
            return principal_from_claims(self._decode(token, key, algorithm, issuer))
        raise unauthorized(f"Tokens signed with {algorithm!r} are not accepted here.")


class SessionSigner:
    """Issues the browser's short-lived session token after an LTI launch."""

    def __init__(self, secret: str, audience: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._audience = audience
        self._ttl = ttl_seconds

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(self, principal: Principal) -> str:
        now = time.time()
        claims = {
            "iss": SESSION_ISSUER,
            "aud": self._audience,
            "sub": principal.user_id,
            "role": principal.role,
            "courses": _course_claim(principal.courses),
            "iat": now,  # fractional: a session issued right after a revocation is not revoked
            "exp": int(now) + self._ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=SESSION_ALGORITHM)


def _course_claim(courses: Iterable[str]) -> str | list[str]:
    ordered = sorted(courses)
    return ALL_COURSES if ALL_COURSES in ordered else ordered
