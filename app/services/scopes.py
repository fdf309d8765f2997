"""A turn's course scope: the course, the page the student has open, and the course's answer modes.

The page context and the modes are course settings read once per turn (from Redis, where
ingestion and lecturers write them); :class:`ScopeReader` is how the turn asks for them. Without
the teaching loop (tools and benchmarks that build a bare pipeline), :class:`PlainScopes` takes
the page context as sent and answers every question directly.
"""

from __future__ import annotations

from typing import Protocol

from app.rag.scope import CourseScope
from app.services.turn import TurnRequest


class ScopeReader(Protocol):
    async def scope(self, req: TurnRequest) -> CourseScope:
        """The scope of this turn; a page context of a material outside the course is dropped."""
        ...


class PlainScopes:
    async def scope(self, req: TurnRequest) -> CourseScope:
        if req.material_id is None or req.course_id is None:  # a page belongs to one course
            return CourseScope(req.course_ids)
        return CourseScope(req.course_ids, req.material_id, req.page)
