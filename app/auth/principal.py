"""The identity every endpoint and every turn works with, whatever the auth mode produced it.

One type, one set of questions ("may this principal read course X?", "is it staff for X?"), so
access rules are decided here and nowhere else. With ``AUTH_MODE=none`` the principal is what the
client claims and may do everything (today's open behaviour, for local use); with ``token`` or
``lti`` it comes from a verified token only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["student", "staff"]
ALL_COURSES = "*"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role = "student"
    courses: frozenset[str] = field(default_factory=frozenset)  # may contain ALL_COURSES
    authenticated: bool = True  # False: AUTH_MODE=none, the user id is only claimed
    # From the verified token, for expiry and revocation checks on long-lived connections.
    issued_at: float | None = None  # None: issued before any revocation could be ordered
    expires_at: float | None = None
    token_id: str | None = None

    @classmethod
    def unauthenticated(cls, user_id: str) -> Principal:
        """AUTH_MODE=none: the claimed id, with access to everything (no checks are possible)."""
        return cls(user_id, "staff", frozenset({ALL_COURSES}), authenticated=False)

    @property
    def all_courses(self) -> bool:
        return ALL_COURSES in self.courses

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"

    def can_read(self, course_id: str) -> bool:
        return self.all_courses or course_id in self.courses

    def is_staff_for(self, course_id: str | None) -> bool:
        """Staff of ``course_id``; ``None`` (all courses) needs staff for every course."""
        if not self.is_staff:
            return False
        return self.all_courses if course_id is None else self.can_read(course_id)

    def expired(self, now: float, leeway: float = 0.0) -> bool:
        return self.expires_at is not None and now > self.expires_at + leeway

    def may_act_for(self, user_id: str, course_id: str | None = None) -> bool:
        """Read or write ``user_id``'s own data (profile, rooms, turns): self, or their staff."""
        return user_id == self.user_id or self.is_staff_for(course_id)
