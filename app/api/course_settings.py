"""A course's teaching settings for its lecturers: the answer mode (direct or guided, per course
or per material, overriding course.yaml at run time), whether insights name students, and who
gets the weekly digest."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import PrincipalDep, ServicesDep
from app.api.teaching_deps import (
    CourseId,
    TeachingDep,
    require_course,
    require_staff,
    store_errors,
)
from app.teaching.course_settings import TeachingSettings, TeachingSettingsUpdate

router = APIRouter(prefix="/courses/{course_id}/teaching-settings", tags=["teaching settings"])


@router.get("")
async def get_settings(
    course_id: CourseId, principal: PrincipalDep, teaching: TeachingDep
) -> TeachingSettings:
    require_staff(principal, course_id)
    async with store_errors("settings store"):
        return await teaching.course_settings.get(course_id)


@router.patch("")
async def update_settings(
    course_id: CourseId,
    change: TeachingSettingsUpdate,
    principal: PrincipalDep,
    services: ServicesDep,
    teaching: TeachingDep,
) -> TeachingSettings:
    """Applies to the next turn on every worker. `null` for a mode goes back to course.yaml."""
    require_staff(principal, course_id)
    await require_course(services, course_id)
    async with store_errors("settings store"):
        return await teaching.course_settings.update(course_id, change)
