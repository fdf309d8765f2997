"""`GET /auth/me` for ``AUTH_MODE=none``: tells a page that no sign-in is needed.

The chat page and dashboard ask this first to learn how to identify their user. Without
authentication the answer is ``auth_mode: "none"`` and the id the client claims (if any), with
today's open access (staff on every course). The token and LTI modes answer this route from the
verified token instead, with the same response shape.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.auth.principal import ALL_COURSES

router = APIRouter(prefix="/auth", tags=["identity"])


class Me(BaseModel):
    auth_mode: Literal["none", "token", "lti"]
    user_id: str | None
    role: Literal["student", "staff"]
    courses: list[str]


@router.get("/me")
async def me(request: Request) -> Me:
    claimed = request.headers.get("x-user-id") or request.query_params.get("user_id") or ""
    return Me(
        auth_mode="none", user_id=claimed.strip() or None, role="staff", courses=[ALL_COURSES]
    )
