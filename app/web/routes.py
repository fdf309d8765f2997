"""Serve the chat page at ``/``, the dashboard at ``/dashboard`` (numbers) and
``/dashboard/<section>`` (insights, curated answers, review queue, settings), ``/widget.js`` and
the assets.

Everything is plain files in ``static/`` (ES modules, vendored libraries, generated client code):
no build step and no CDN at run time. Caching: pages and our own modules are revalidated on every
load (``no-cache`` + ETag, so a deploy shows at once and an unchanged file costs a 304), while
vendored libraries live in version-named folders and are cached for a year as immutable.

The pages carry a Content-Security-Policy that allows scripts from this origin only: answers and
PDF text are sanitized before they reach the DOM, and even a sanitizer bug could not run an inline
script or event handler.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, status
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).resolve().parent / "static"
VENDOR_PREFIX = "vendor/"
LECTURER_SECTIONS = frozenset({"insights", "curated", "reviews", "settings"})

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # chart sizes are set as inline styles
        "img-src 'self' data: blob:",
        "connect-src 'self' ws: wss:",
        "frame-src 'self' blob:",
        "object-src 'self' blob:",  # the browser's PDF viewer for blob: links under auth
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=PAGE_HEADERS)


@router.get("/")
async def chat_page() -> FileResponse:
    return _page("index.html")


@router.get("/dashboard")
async def dashboard_page() -> FileResponse:
    return _page("dashboard.html")


@router.get("/dashboard/{section}")
async def lecturer_page(section: str) -> FileResponse:
    """The lecturer's pages: one document, the section named in the (bookmarkable) path."""
    if section not in LECTURER_SECTIONS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such dashboard page.")
    return _page("lecturer.html")


@router.get("/widget.js")
async def widget() -> FileResponse:
    # embedded by URL on other sites: short cache, any origin may load it
    return FileResponse(
        STATIC / "widget.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


class CachedStatic(StaticFiles):
    """StaticFiles with the cache policy above."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if path.startswith(VENDOR_PREFIX):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount(app: FastAPI) -> None:
    """Add the pages and ``/static`` to ``app``."""
    app.include_router(router)
    app.mount("/static", CachedStatic(directory=STATIC), name="static")
