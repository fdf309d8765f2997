"""What a course says about one turn, read once per turn: its answer modes, and whether the page
the student says is open belongs to it.

A page context is a hint from the client, so it is checked against the course's own materials:
a material of another course (or an unknown one) is dropped, as if no page were open — it can
neither steer retrieval nor change the answer mode or the cache scope, and the course filter of
retrieval never depends on it anyway. A page past the material's end keeps the material only.
"""

from __future__ import annotations

import asyncio

from app.rag.scope import CourseScope
from app.services.turn import TurnRequest
from app.teaching.course_settings import CourseSettingsStore
from app.teaching.references import MaterialPages


class CourseScopes:
    def __init__(self, settings: CourseSettingsStore, pages: MaterialPages) -> None:
        self._settings = settings
        self._pages = pages

    async def scope(self, req: TurnRequest) -> CourseScope:
        course_id = req.course_id
        if course_id is None:  # several or every course: no course settings, no page to prefer
            return CourseScope(req.course_ids)
        if req.material_id is None:
            return CourseScope(course_id, modes=await self._settings.modes(course_id))
        modes, files = await asyncio.gather(
            self._settings.modes(course_id), self._pages.files(course_id)
        )
        material = files.get(req.material_id)
        if material is None:
            return CourseScope(course_id, modes=modes)
        pages = int(material.get("pages") or 0)
        page = req.page if req.page is not None and (not pages or req.page <= pages) else None
        return CourseScope(course_id, req.material_id, page, modes)
