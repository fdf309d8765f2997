"""The one rule for user and course ids, used by the socket, HTTP, tokens, LTI and ingestion.

A course id with a stray space (``course_tik_01%20``) or a trailing newline used to pass a ``$``
anchored pattern and then match no chunk at all: the same input must mean the same course
everywhere, so every entry point normalizes through :func:`normalize_course_id`. Surrounding
whitespace is trimmed (clients build URLs from templates); anything else outside the pattern is
refused, never silently repaired.
"""

from __future__ import annotations

import re

COURSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
USER_ID = re.compile(r"[A-Za-z0-9_.@:\-]{1,128}")
# Browser clients built from string templates send these for "no course".
ABSENT = frozenset({"", "null", "undefined", "none"})
COURSE_RULE = "1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
USER_RULE = "1-128 letters, digits or '_', '-', '.', '@', ':'"


class InvalidIdentifierError(ValueError):
    """An id that does not follow the rule; the message is fit for a client."""


def normalize_course_id(raw: str) -> str:
    """The canonical form of a course id, or :class:`InvalidIdentifierError`."""
    value = raw.strip()
    if not COURSE_ID.fullmatch(value):
        raise InvalidIdentifierError(f"Invalid course_id {raw[:40]!r}: use {COURSE_RULE}.")
    return value


def optional_course_id(raw: str | None) -> str | None:
    """A course id from a query parameter or body, where absent/``null``/empty mean none."""
    if raw is None or raw.strip().lower() in ABSENT:
        return None
    return normalize_course_id(raw)


def normalize_user_id(raw: str) -> str:
    value = raw.strip()
    if not USER_ID.fullmatch(value):
        raise InvalidIdentifierError(f"Invalid user_id {raw[:40]!r}: use {USER_RULE}.")
    return value
