"""LTI roles to tutor roles, fail-closed: the one mapping, for launches and roster syncs alike."""

from __future__ import annotations

from app.auth.principal import Role

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
STAFF_ROLES = {f"{MEMBERSHIP}#Instructor", f"{MEMBERSHIP}/Instructor#TeachingAssistant"}
STUDENT_ROLES = {f"{MEMBERSHIP}#Learner"}


def map_role(roles: object) -> Role | None:
    """Instructor / TeachingAssistant → staff, Learner → student, anything else → None."""
    if not isinstance(roles, list):
        return None
    given = {r for r in roles if isinstance(r, str)}
    if given & STAFF_ROLES:
        return "staff"
    if given & STUDENT_ROLES:
        return "student"
    return None
