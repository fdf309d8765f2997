"""The identity rules that need no server: ids, Origin, bind safety, claims, roles, log redaction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.auth.bind import InsecureBindError, check_bind
from app.auth.lti.platforms import LtiConfigError, load_platforms
from app.auth.lti.roles import map_role
from app.auth.lti.tool import user_id_for
from app.auth.origin import OriginPolicy
from app.auth.principal import Principal
from app.auth.redaction import SecretRedactingFilter
from app.auth.service import Authenticator
from app.auth.tokens import parse_courses, principal_from_claims
from app.core.identifiers import InvalidIdentifierError, normalize_course_id, optional_course_id
from app.protocol.errors import ErrorCode, ProtocolError
from app.rag.scope import CourseScope, redis_filter, scope_filters
from app.services.cache import course_scope_tag, is_course_set_tag
from tests.support.settings import isolated_settings

SECRET = "s" * 40


@pytest.mark.parametrize(
    "raw", ["course_tik_01", " course_tik_01", "course_tik_01 ", "course_tik_01\n"]
)
def test_course_ids_are_trimmed_the_same_everywhere(raw: str) -> None:
    assert normalize_course_id(raw) == "course_tik_01"


@pytest.mark.parametrize("raw", ["course tik", "course_tik_01\nx", "-x", "a" * 65, "ü", "a/b"])
def test_invalid_course_ids_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        normalize_course_id(raw)


@pytest.mark.parametrize("raw", [None, "", " ", "null", "undefined", "None"])
def test_absent_course_markers(raw: str | None) -> None:
    assert optional_course_id(raw) is None


def test_ingestion_uses_the_same_course_rule() -> None:
    from ingest.catalog import CatalogError, validate_course_id

    assert validate_course_id("course_tik_01 ") == "course_tik_01"
    with pytest.raises(CatalogError):
        validate_course_id("bad id")


def test_origin_default_is_the_servers_own() -> None:
    policy = OriginPolicy([], None)
    assert policy.allows(None, "tutor.example:8000")  # not a browser
    assert policy.allows("http://tutor.example:8000", "tutor.example:8000")
    assert policy.allows("https://tutor.example", "tutor.example")  # TLS ended at a proxy
    assert not policy.allows("https://evil.example", "tutor.example")
    assert not policy.allows("http://tutor.example:9000", "tutor.example:8000")
    assert not policy.allows("null", "tutor.example")


def test_origin_allow_list_and_public_url() -> None:
    listed = OriginPolicy(["https://lms.example.edu"], None)
    assert listed.allows("https://lms.example.edu/", "tutor.example")
    assert listed.allows("https://tutor.example", "tutor.example")  # its own origin, always
    assert not listed.allows("https://evil.example", "tutor.example")
    public = OriginPolicy([], "https://tutor.example.edu")
    assert public.allows("https://tutor.example.edu", "10.0.0.5:8000")
    assert not public.allows("http://10.0.0.5:8000", "10.0.0.5:8000")


def test_none_mode_refuses_a_public_bind_naming_both_settings(tmp_path: Path) -> None:
    settings = isolated_settings("tbind", tmp_path)
    with pytest.raises(InsecureBindError) as refused:
        check_bind(settings, "0.0.0.0")
    assert "AUTH_MODE" in str(refused.value) and "AUTH_ALLOW_INSECURE" in str(refused.value)
    check_bind(settings, "127.0.0.1")
    check_bind(settings, "::1")
    check_bind(isolated_settings("tbind", tmp_path, auth_allow_insecure=True), "0.0.0.0")
    check_bind(
        isolated_settings("tbind", tmp_path, auth_mode="token", auth_jwt_secret=SECRET), "0.0.0.0"
    )


def test_create_app_refuses_a_public_bind_in_none_mode(tmp_path: Path) -> None:
    from app.main import create_app

    with pytest.raises(InsecureBindError):
        create_app(isolated_settings("tbind", tmp_path, host="0.0.0.0"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auth_mode": "token"}, "AUTH_JWT_SECRET or AUTH_JWKS_URL"),
        ({"auth_jwt_secret": "short"}, "at least 32"),
        ({"auth_session_secret": "short"}, "at least 32"),
    ],
)
def test_auth_settings_are_checked(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        isolated_settings("tcfg", tmp_path, **overrides)


def test_allowed_origins_are_comma_separated(tmp_path: Path) -> None:
    settings = isolated_settings(
        "tcfg", tmp_path, allowed_origins="https://a.example/, https://b.example"
    )
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]


def test_claims_become_a_principal() -> None:
    principal = principal_from_claims(
        {"sub": "u1", "courses": ["course_tik_01 "], "role": "staff", "exp": 2e9, "iat": 1.5e9}
    )
    assert principal == Principal(
        "u1", "staff", frozenset({"course_tik_01"}), issued_at=1.5e9, expires_at=2e9
    )
    assert parse_courses("*") == frozenset({"*"})
    assert principal_from_claims({"sub": "u2", "exp": 2e9}).role == "student"  # least privilege


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u1", "courses": "course_tik_01", "exp": 2e9},
        {"sub": "u1", "courses": ["bad id"], "exp": 2e9},
        {"sub": "u1", "role": "admin", "exp": 2e9},
        {"sub": "has space", "exp": 2e9},
    ],
)
def test_unusable_claims_are_unauthorized(claims: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as refused:
        principal_from_claims(claims)
    assert refused.value.code is ErrorCode.UNAUTHORIZED


def test_course_scope_never_widens() -> None:
    one = Principal("a", courses=frozenset({"c1"}))
    two = Principal("b", courses=frozenset({"c1", "c2"}))
    every = Principal("c", "staff", frozenset({"*"}))
    none = Principal("d", courses=frozenset())
    assert Authenticator.course_scope(one, None) == frozenset({"c1"})
    assert Authenticator.course_scope(two, None) == frozenset({"c1", "c2"})  # theirs, never all
    assert Authenticator.course_scope(every, None) is None
    assert Authenticator.course_scope(two, "c2") == frozenset({"c2"})
    for principal, course, code in (
        (one, "c2", ErrorCode.FORBIDDEN),
        (none, None, ErrorCode.FORBIDDEN),
    ):
        with pytest.raises(ProtocolError) as refused:
            Authenticator.course_scope(principal, course)
        assert refused.value.code is code


def test_a_course_set_filters_with_one_tag_or() -> None:
    one = scope_filters(CourseScope("c1"))
    two = scope_filters(CourseScope(frozenset({"c2", "c1"})))
    every = scope_filters(CourseScope(None))
    assert str(redis_filter(one)).endswith("@course_id:{c1})")
    assert str(redis_filter(two)).endswith("@course_id:{c1|c2})")
    assert "course_id" not in str(redis_filter(every))
    assert CourseScope(frozenset({"c1", "c2"})).course_id is None
    assert CourseScope("c1").course_ids == frozenset({"c1"})  # a string is one course
    with pytest.raises(ValueError):
        CourseScope(frozenset())  # an empty tag list would match every course


def test_cache_scope_tag_is_the_sorted_course_set() -> None:
    assert course_scope_tag(frozenset({"c1"})) == "c1"
    assert course_scope_tag(frozenset({"c2", "c1"})) == "c1+c2"
    assert course_scope_tag(None) == "__all__"
    assert course_scope_tag(frozenset({"c1", "c2"})) != course_scope_tag(frozenset({"c1"}))
    many = frozenset(f"course_{i:03d}" for i in range(40))
    assert course_scope_tag(many).startswith("+") and len(course_scope_tag(many)) == 33
    assert is_course_set_tag("c1+c2") and is_course_set_tag("__all__")
    assert not is_course_set_tag("c1")


def test_roles_map_fail_closed() -> None:
    base = "http://purl.imsglobal.org/vocab/lis/v2/membership"
    assert map_role([f"{base}#Learner"]) == "student"
    assert map_role([f"{base}#Learner", f"{base}#Instructor"]) == "staff"
    assert map_role([f"{base}/Instructor#TeachingAssistant"]) == "staff"
    for roles in (
        [],
        [f"{base}#Mentor"],
        ["Learner"],
        "Learner",
        None,
        [f"{base}#ContentDeveloper"],
    ):
        assert map_role(roles) is None


def test_lti_user_ids_are_scoped_by_platform() -> None:
    from app.auth.lti.platforms import Platform

    moodle = Platform("moodle", "https://m", "c", "https://m/a", "https://m/j", frozenset({"1"}))
    assert user_id_for(moodle, "1234") == "moodle:1234"
    odd = user_id_for(moodle, "näme with spaces")
    assert odd.startswith("moodle:h") and " " not in odd


def test_platforms_file_and_course_yaml_contexts(tmp_path: Path) -> None:
    platforms = tmp_path / "p.yaml"
    platforms.write_text(
        "platforms:\n  - name: lms\n    issuer: https://lms\n    client_id: c\n"
        "    auth_login_url: https://lms/auth\n    jwks_url: https://lms/jwks\n"
        "    deployment_ids: ['1']\n    contexts: {'42': course_a}\n",
        encoding="utf-8",
    )
    courses = tmp_path / "courses"
    (courses / "course_b").mkdir(parents=True)
    (courses / "course_b" / "course.yaml").write_text(
        "lti_contexts:\n  lms: ['43']\n", encoding="utf-8"
    )
    [platform] = load_platforms(platforms, courses)
    assert platform.contexts == {"42": "course_a", "43": "course_b"}
    (courses / "course_b" / "course.yaml").write_text(
        "lti_contexts:\n  lms: ['42']\n", encoding="utf-8"
    )
    with pytest.raises(LtiConfigError, match="mapped to both"):
        load_platforms(platforms, courses)
    with pytest.raises(LtiConfigError, match="LTI_PLATFORMS_FILE"):
        load_platforms(tmp_path / "missing.yaml", courses)


def test_tickets_never_reach_the_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1,
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/?ticket=abc123&course_id=c1", "1.1", 200), None,
    )  # fmt: skip
    SecretRedactingFilter().filter(record)
    assert "abc123" not in record.getMessage() and "course_id=c1" in record.getMessage()


def test_lti_state_cookie_binds_one_state_and_is_secure_over_https() -> None:
    from starlette.responses import Response

    from app.api.lti import _set_state_cookie
    from app.auth.lti.binding import StateCookie, bound_to_browser

    state = "state-" + "x" * 40
    cookie = StateCookie.for_state(state, 600, secure=True)
    assert state not in cookie.value and bound_to_browser({cookie.name: cookie.value}, state)
    assert not bound_to_browser({}, state)
    assert not bound_to_browser({cookie.name: cookie.value}, state + "y")  # another state
    assert not bound_to_browser({cookie.name: "0" * 64}, state)
    response = Response()
    _set_state_cookie(response, cookie)
    header = response.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "Partitioned", "SameSite=None", "Path=/lti/"):
        assert attribute in header, header
    plain = Response()
    _set_state_cookie(plain, StateCookie.for_state(state, 600, secure=False))
    http = plain.headers["set-cookie"]  # browsers drop SameSite=None without Secure
    assert "Secure" not in http and "SameSite=Lax" in http and "HttpOnly" in http


def test_a_downvote_holds_only_an_entry_of_the_turns_own_scope() -> None:
    from app.teaching.reviews import _same_scope

    assert _same_scope("c1", "c1") and not _same_scope("c2", "c1")
    assert not _same_scope("c1+c2", "c1")  # a course set's entry is not course c1's
    assert _same_scope("c1+c2", None) and _same_scope("__all__", None)  # turns without one course
    assert not _same_scope("c1", None)
