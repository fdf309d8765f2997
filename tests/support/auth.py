"""Identity for tests: real signed tokens, and an LMS (LTI 1.3 platform) running over HTTP.

Nothing here verifies anything on the server's behalf: tokens are signed with PyJWT and real
RSA keys, and the server fetches the platform's keys from its JWKS endpoint like any LMS's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.live_server import live_server

SECRET = "test-secret-" + "x" * 40
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def mint(
    sub: str = "student1",
    courses: list[str] | str | None = None,
    role: str = "student",
    *,
    secret: str = SECRET,
    ttl: float = 600,
    **claims: Any,
) -> str:
    """An HS256 token as an identity provider would sign it."""
    now = time.time()
    body: dict[str, Any] = {
        "sub": sub,
        "courses": ["course_tik_01"] if courses is None else courses,
        "role": role,
        "aud": "course-tutor",
        "iat": int(now),
        "exp": int(now + ttl),
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, secret, algorithm="HS256")


@dataclass
class RsaKeys:
    """A rotating RSA key set, published as a JWKS."""

    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    current: str = ""

    def rotate(self) -> str:
        kid = uuid.uuid4().hex[:8]
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            out.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": out}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        kid = kid or self.current
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@dataclass
class LmsUser:
    sub: str
    roles: list[str]
    context_id: str
    active: bool = True  # False: removed from the course (the roster says Inactive)


class SimulatedLms:
    """An LTI 1.3 platform: a JWKS endpoint and an OIDC authorization endpoint, over HTTP."""

    client_id = "tutor-client"
    deployment_id = "deploy-1"

    def __init__(self) -> None:
        self.keys = RsaKeys()
        self.keys.rotate()
        self.users: dict[str, LmsUser] = {}
        self.url = ""
        self.jwks_fetches = 0
        self.tool_jwks_url = ""  # where the LMS fetches the tool's keys (its registration)
        self.tokens_issued = 0
        self.app = Starlette(
            routes=[
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/memberships/{context}", self._memberships),
            ]
        )

    @property
    def issuer(self) -> str:
        return self.url

    def platform_yaml(self, contexts: dict[str, str]) -> str:
        lines = [
            "platforms:",
            "  - name: lms",
            f"    issuer: {self.issuer}",
            f"    client_id: {self.client_id}",
            f"    auth_login_url: {self.url}/authorize",
            f"    jwks_url: {self.url}/jwks",
            f"    deployment_ids: [{self.deployment_id}]",
            f"    auth_token_url: {self.url}/token",
            "    contexts:",
        ]
        lines += [f'      "{context}": {course}' for context, course in contexts.items()]
        return "\n".join(lines) + "\n"

    def claims(self, user: LmsUser, nonce: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": user.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "roles": user.roles,
            CLAIM + "context": {"id": user.context_id, "label": "TIK", "title": "Course"},
            CLAIM + "resource_link": {"id": "link-1"},
            CLAIM + "target_link_uri": "https://tutor.example/",
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.url}/memberships/{user.context_id}",
                "service_versions": ["2.0"],
            },
        }
        body.update(overrides)
        return body

    async def _jwks(self, _request: Request) -> JSONResponse:
        self.jwks_fetches += 1
        return JSONResponse(self.keys.jwks())

    async def _authorize(self, request: Request) -> JSONResponse:
        """What the LMS does after the tool's redirect: sign an id_token for the logged-in user.

        A real LMS answers with an auto-submitting form; the test's "browser" gets the same
        fields as JSON and posts them to the tool.
        """
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("response_type") != "id_token":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        user = self.users[q["login_hint"]]
        token = self.keys.sign(self.claims(user, q["nonce"]))
        return JSONResponse({"action": q["redirect_uri"], "id_token": token, "state": q["state"]})

    async def _token(self, request: Request) -> JSONResponse:
        """OAuth 2 client credentials: the tool proves itself with a JWT signed by its own key,
        which the LMS checks against the tool's published JWKS (fetched over HTTP)."""
        form = await request.form()
        assertion = str(form.get("client_assertion", ""))
        async with httpx.AsyncClient() as http:
            keys = jwt.PyJWKSet.from_dict((await http.get(self.tool_jwks_url)).json())
        kid = jwt.get_unverified_header(assertion).get("kid")
        key = next(k for k in keys.keys if k.key_id == kid)
        claims = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=f"{self.url}/token",
            issuer=self.client_id,
        )
        if claims["sub"] != self.client_id or "contextmembership" not in str(form.get("scope")):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        self.tokens_issued += 1
        return JSONResponse({"access_token": f"at-{uuid.uuid4().hex}", "token_type": "Bearer"})

    async def _memberships(self, request: Request) -> JSONResponse:
        """The roster, two members per page (Link: rel="next"), statuses included."""
        if not request.headers.get("authorization", "").startswith("Bearer at-"):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        context = request.path_params["context"]
        members = [
            {"user_id": u.sub, "roles": u.roles, "status": "Active" if u.active else "Inactive"}
            for u in self.users.values()
            if u.context_id == context
        ]
        page = int(request.query_params.get("page", "0"))
        body = {"id": str(request.url), "members": members[2 * page : 2 * page + 2]}
        headers = {}
        if 2 * page + 2 < len(members):
            headers["Link"] = f'<{self.url}/memberships/{context}?page={page + 1}>; rel="next"'
        return JSONResponse(body, headers=headers)


@contextmanager
def running_lms() -> Iterator[SimulatedLms]:
    lms = SimulatedLms()
    with live_server(lms.app) as url:
        lms.url = url
        yield lms


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
