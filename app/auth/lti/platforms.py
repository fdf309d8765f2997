"""The LMS platforms this tool trusts, and which LMS course is which tutor course.

``LTI_PLATFORMS_FILE`` (YAML)::

    platforms:
      - name: moodle                       # short, in user ids: "moodle:<sub>"
        issuer: https://moodle.example.edu
        client_id: tutor-client-id
        auth_login_url: https://moodle.example.edu/mod/lti/auth.php
        jwks_url: https://moodle.example.edu/mod/lti/certs.php
        deployment_ids: ["1"]
        contexts:                          # LTI context id -> course id
          "42": course_tik_01
        auth_token_url: https://moodle.example.edu/mod/lti/token.php   # optional: roster sync

A course may also claim contexts in its own ``courses/<course_id>/course.yaml``::

    lti_contexts:
      moodle: ["42"]

A context mapped to two courses is a configuration error (refused at start); a context mapped to
none is refused at launch: the tool never guesses a course.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from app.core.identifiers import InvalidIdentifierError, normalize_course_id


class LtiConfigError(ValueError):
    """The platforms file or a course.yaml cannot be used; the message says where."""


class PlatformEntry(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")
    issuer: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    auth_login_url: str = Field(pattern=r"^https?://")
    jwks_url: str = Field(pattern=r"^https?://")
    deployment_ids: list[str] = Field(min_length=1)
    contexts: dict[str, str] = Field(default_factory=dict)
    auth_token_url: str | None = Field(default=None, pattern=r"^https?://")  # roster sync


class PlatformsFile(BaseModel):
    platforms: list[PlatformEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Platform:
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    jwks_url: str
    deployment_ids: frozenset[str]
    contexts: dict[str, str] = field(default_factory=dict)  # context id -> course id
    auth_token_url: str | None = None  # OAuth 2 token endpoint, for the roster (NRPS)


def _courses_claims(courses_dir: Path) -> dict[tuple[str, str], str]:
    """(platform name, context id) -> course id, from every course.yaml's ``lti_contexts``."""
    found: dict[tuple[str, str], str] = {}
    if not courses_dir.is_dir():
        return found
    for path in sorted(courses_dir.glob("*/course.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            course_id = normalize_course_id(path.parent.name)
        except (yaml.YAMLError, OSError, InvalidIdentifierError) as exc:
            raise LtiConfigError(f"{path}: {exc}") from exc
        claims = data.get("lti_contexts") if isinstance(data, dict) else None
        if not claims:
            continue
        if not isinstance(claims, dict):
            raise LtiConfigError(f"{path}: lti_contexts must map a platform name to context ids")
        for platform, contexts in claims.items():
            for context in contexts if isinstance(contexts, list) else [contexts]:
                found[(str(platform), str(context))] = course_id
    return found


def load_platforms(path: Path, courses_dir: Path) -> list[Platform]:
    """Read and check the platforms file (blocking: call it via ``asyncio.to_thread``)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = PlatformsFile.model_validate(raw)
    except FileNotFoundError as exc:
        raise LtiConfigError(
            f"AUTH_MODE=lti needs the platforms file {path} (LTI_PLATFORMS_FILE); "
            "see docs/security.md for its format."
        ) from exc
    except (yaml.YAMLError, OSError, ValidationError) as exc:
        raise LtiConfigError(f"{path}: {exc}") from exc
    claimed = _courses_claims(courses_dir)
    platforms = []
    for entry in parsed.platforms:
        contexts: dict[str, str] = {}
        for context, course in entry.contexts.items():
            try:
                contexts[str(context)] = normalize_course_id(course)
            except InvalidIdentifierError as exc:
                raise LtiConfigError(f"{path}: platform {entry.name}: {exc}") from exc
        for (name, context), course in claimed.items():
            if name != entry.name:
                continue
            if contexts.get(context, course) != course:
                raise LtiConfigError(
                    f"LTI context {context!r} of {name} is mapped to both "
                    f"{contexts[context]!r} and {course!r}"
                )
            contexts[context] = course
        platforms.append(
            Platform(
                entry.name,
                entry.issuer,
                entry.client_id,
                entry.auth_login_url,
                entry.jwks_url,
                frozenset(entry.deployment_ids),
                contexts,
                entry.auth_token_url,
            )
        )
    if len({(p.issuer, p.client_id) for p in platforms}) != len(platforms):
        raise LtiConfigError(f"{path}: an (issuer, client_id) pair is listed twice")
    return platforms
