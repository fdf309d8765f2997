"""Protocol errors raised in HTTP handlers become a status and the same JSON everywhere.

``{"detail": <message>, "error_code": <ErrorCode>, "recoverable": bool, "suggestion": str}`` —
``detail`` as FastAPI's own errors have it, plus the code a client can branch on.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from app.protocol.errors import ErrorCode, ProtocolError

STATUS = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INVALID_PARAMETER: 422,
    ErrorCode.UNKNOWN_COURSE: 404,
}


def error_response(exc: ProtocolError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.code is ErrorCode.UNAUTHORIZED else None
    return JSONResponse(
        {
            "detail": exc.message,
            "error_code": exc.code.value,
            "recoverable": exc.code.recoverable,
            "suggestion": exc.code.spec.suggestion,
        },
        status_code=STATUS.get(exc.code, 400),
        headers=headers,
    )


async def protocol_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProtocolError)
    return error_response(exc)
