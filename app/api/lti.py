"""`/lti/login`, `/lti/launch`, `/lti/jwks`: the HTTP face of the LTI 1.3 tool (AUTH_MODE=lti).

A successful launch redirects (303) to the chat page ``/?ticket=<one-time launch ticket>&
course_id=<course>``; the page exchanges the ticket at ``POST /auth/session``. The ticket is in the
URL for seconds and works once; the redirect forbids referrers and caching. Refusals are 401/403:
JSON for programs, a short page for a browser inside the LMS iframe.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, field_validator

from app.api.auth import LAUNCH_TICKET_SECONDS
from app.api.deps import AuthenticatorDep, PrincipalDep
from app.api.errors import STATUS, error_response
from app.auth.lti.binding import COOKIE_PATH, StateCookie, bound_to_browser, cookie_name
from app.auth.lti.tool import LtiTool
from app.auth.service import Authenticator
from app.core.identifiers import normalize_course_id
from app.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/lti", tags=["lti"])
NO_TRACE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _tool(auth: Authenticator) -> LtiTool:
    if auth.lti is None:
        raise ProtocolError(
            ErrorCode.UNAUTHORIZED, f"LTI launches need AUTH_MODE=lti (now {auth.mode})."
        )
    return auth.lti


def _refusal(request: Request, exc: ProtocolError) -> Response:
    log.info("LTI refused: %s %s", exc.code.value, exc.message)
    if "text/html" not in request.headers.get("accept", ""):
        return error_response(exc)
    body = (
        "<!doctype html><meta charset=utf-8><title>Course tutor</title>"
        f"<p>{html.escape(exc.message)}</p><p>{html.escape(exc.code.spec.suggestion)}</p>"
    )
    return HTMLResponse(body, status_code=STATUS.get(exc.code, 400), headers=NO_TRACE)


def _base_url(request: Request, auth: Authenticator) -> str:
    return (auth.settings.public_url or str(request.base_url)).rstrip("/")


async def _params(request: Request) -> dict[str, str]:
    params = {k: v for k, v in request.query_params.items()}
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _secure(request: Request, auth: Authenticator) -> bool:
    return _base_url(request, auth).startswith("https://") or request.url.scheme == "https"


def _set_state_cookie(response: Response, cookie: StateCookie) -> None:
    """Written by hand: Starlette's ``set_cookie(partitioned=True)`` needs Python 3.14."""
    response.headers.append("set-cookie", cookie.header(COOKIE_PATH))


@router.get("/login", response_model=None, operation_id="lti_login_get")
@router.post("/login", response_model=None, operation_id="lti_login_post")
async def login(request: Request, auth: AuthenticatorDep) -> Response:
    """OIDC login initiation: remember state and nonce server-side, bind the state to this
    browser with a cookie, send the browser to the LMS."""
    try:
        base = _base_url(request, auth)
        target = await _tool(auth).login(await _params(request), f"{base}/lti/launch")
    except ProtocolError as exc:
        return _refusal(request, exc)
    ttl = auth.settings.lti_state_ttl_seconds
    cookie = StateCookie.for_state(target.state, ttl, _secure(request, auth))
    response = RedirectResponse(target.url, status_code=302, headers=NO_TRACE)
    _set_state_cookie(response, cookie)
    return response


@router.post("/launch", response_model=None)
async def launch(request: Request, auth: AuthenticatorDep) -> Response:
    params = await _params(request)
    state = params.get("state", "")
    try:
        tool = _tool(auth)
        if not bound_to_browser(request.cookies, state):
            raise ProtocolError(
                ErrorCode.UNAUTHORIZED,
                "This launch did not start in this browser (its login cookie is missing or "
                "wrong). Launch the tutor again from the LMS; if this repeats, your browser "
                "blocks the tool's cookies in the LMS frame: open the tutor in a new window.",
            )
        done = await tool.launch(params.get("id_token", ""), state)
        ticket = await auth.tickets.issue(
            "launch", done.principal, done.course_id, LAUNCH_TICKET_SECONDS
        )
    except ProtocolError as exc:
        return _refusal(request, exc)
    log.info("LTI launch: platform=%s course=%s role=%s", done.platform, done.course_id,
             done.principal.role)  # fmt: skip
    query = urlencode({"ticket": ticket, "course_id": done.course_id})
    response = RedirectResponse(f"{_base_url(request, auth)}/?{query}", 303, headers=NO_TRACE)
    spent = StateCookie(cookie_name(state), "", 0, _secure(request, auth))
    _set_state_cookie(response, spent)  # the state is used up: drop its cookie
    return response


@router.get("/jwks")
async def jwks(auth: AuthenticatorDep) -> JSONResponse:
    """The tool's public key set, for platforms that verify what the tool signs."""
    return JSONResponse(_tool(auth).tool_key.jwks())


class RosterRequest(BaseModel):
    course_id: str

    @field_validator("course_id")
    @classmethod
    def _course(cls, value: str) -> str:
        return normalize_course_id(value)


class RosterResponse(BaseModel):
    course_id: str
    members: int
    revoked: list[str]


@router.post("/roster/sync")
async def roster_sync(
    body: RosterRequest, principal: PrincipalDep, auth: AuthenticatorDep
) -> RosterResponse:
    """Staff of the course: read the LMS roster now and revoke whoever left it."""
    if not principal.is_staff_for(body.course_id):
        raise ProtocolError(ErrorCode.FORBIDDEN, "Only staff of this course may sync its roster.")
    result = await _tool(auth).roster.sync(body.course_id)
    return RosterResponse(
        course_id=result.course_id, members=result.members, revoked=result.revoked
    )
