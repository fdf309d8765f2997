"""The courses a user may read, with their materials, and the course PDFs themselves.

The chat page's course picker lists ``GET /courses``; each source of an answer links to
``GET /materials/{course_id}/{material_id}.pdf#page=N``, the file ingestion read, served only to
users of that course (the Principal decides).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from app.api.deps import PrincipalDep
from app.api.readers import CatalogDep
from app.api.unavailable import unavailable_as_503
from app.protocol.errors import ErrorCode, ProtocolError
from app.services.catalog import CourseInfo

router = APIRouter(tags=["courses"])

Identifier = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")]


class CoursesResponse(BaseModel):
    courses: list[CourseInfo]


@router.get("/courses")
async def list_courses(principal: PrincipalDep, catalog: CatalogDep) -> CoursesResponse:
    """Every ingested course this user may read, with its materials and their page counts."""
    async with unavailable_as_503("The course catalog"):
        ids = [c for c in await catalog.course_ids() if principal.can_read(c)]
        return CoursesResponse(courses=await catalog.courses(ids))


@router.get(
    "/materials/{course_id}/{material_id}.pdf",
    response_class=FileResponse,
    responses={
        status.HTTP_200_OK: {"content": {"application/pdf": {}}},
        status.HTTP_403_FORBIDDEN: {"description": "Not a user of this course"},
        status.HTTP_404_NOT_FOUND: {"description": "No such material, or its file is gone"},
    },
)
async def material_pdf(
    course_id: Identifier, material_id: Identifier, principal: PrincipalDep, catalog: CatalogDep
) -> FileResponse:
    """The course PDF as ingested; open it at a page with ``#page=N``."""
    if not principal.can_read(course_id):
        raise ProtocolError(ErrorCode.FORBIDDEN, f"You are not enrolled in course {course_id!r}.")
    async with unavailable_as_503("The course catalog"):
        path = await catalog.pdf_path(course_id, material_id)
    if path is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"No PDF for material {material_id!r} of course {course_id!r}; "
            "it may need to be ingested again.",
        )
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=f"{material_id}.pdf",
        content_disposition_type="inline",
        # per user (access-checked): browsers may keep it, shared caches may not
        headers={"Cache-Control": "private, max-age=3600"},
    )
