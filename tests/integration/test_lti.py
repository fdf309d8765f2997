"""AUTH_MODE=lti against a simulated LMS that runs over HTTP with real RS256 keys and a JWKS.

The test plays the browser: the LMS starts the OIDC login at /lti/login, the tool redirects to the
LMS, the LMS signs an id_token and the browser posts it to /lti/launch; the tool redirects to the
chat page with a one-time ticket, the page exchanges it for a session token and opens the socket.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.support.auth import INSTRUCTOR, LEARNER, LmsUser, SimulatedLms, query_of, running_lms
from tests.support.client import ask, recv, stream_url
from tests.support.scripted_openai import ScriptedOpenAI
from tests.support.tutor import serve_tutor

pytestmark = pytest.mark.integration
CONTEXTS = {"ctx-tik": "course_tik_01", "ctx-net": "course_net_en_01"}


@pytest.fixture(scope="module")
def lms() -> Iterator[SimulatedLms]:
    with running_lms() as platform:
        platform.users = {
            "learner": LmsUser("u-100", [LEARNER], "ctx-tik"),
            "teacher": LmsUser("u-200", [INSTRUCTOR], "ctx-tik"),
            "guest": LmsUser(
                "u-300", ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], "ctx-tik"
            ),
            "elsewhere": LmsUser("u-400", [LEARNER], "ctx-unmapped"),
        }
        yield platform


@pytest.fixture(scope="module")
def tutor(
    sample_index: str,
    scripted_server: ScriptedOpenAI,
    lms: SimulatedLms,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("lti-mode")
    platforms = folder / "platforms.yaml"
    platforms.write_text(lms.platform_yaml(CONTEXTS), encoding="utf-8")
    with serve_tutor(
        sample_index,
        scripted_server,
        folder,
        auth_mode="lti",
        lti_platforms_file=platforms,
        auth_session_ttl_seconds=600,
    ) as (url, _settings):
        yield url


async def login(http: httpx.AsyncClient, lms: SimulatedLms, hint: str) -> dict[str, str]:
    """Step 1 (the LMS sends the browser to the tool): the tool's redirect back to the LMS."""
    response = await http.get(
        "/lti/login",
        params={
            "iss": lms.issuer,
            "login_hint": hint,
            "target_link_uri": "https://x/",
            "client_id": lms.client_id,
        },
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{lms.url}/authorize?")
    return query_of(location)


async def launch(http: httpx.AsyncClient, id_token: str, state: str) -> httpx.Response:
    return await http.post("/lti/launch", data={"id_token": id_token, "state": state})


async def full_launch(http: httpx.AsyncClient, lms: SimulatedLms, hint: str) -> httpx.Response:
    auth = await login(http, lms, hint)
    async with httpx.AsyncClient() as browser:  # the browser follows the redirect to the LMS
        form = (await browser.get(f"{lms.url}/authorize", params=auth)).json()
    assert form["action"].endswith("/lti/launch")
    return await launch(http, form["id_token"], form["state"])


def refused(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == (401 if code == "UNAUTHORIZED" else 403), response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code
    return body


async def test_valid_launch_opens_the_chat(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        done = await full_launch(http, lms, "learner")
        assert done.status_code == 303
        assert done.headers["referrer-policy"] == "no-referrer"
        page = query_of(done.headers["location"])
        assert done.headers["location"].startswith(f"{tutor}/?")
        assert page["course_id"] == "course_tik_01"
        session = await http.post("/auth/session", json={"ticket": page["ticket"]})
        assert session.status_code == 200, session.text
        body = session.json()
        assert body["user_id"] == "lms:u-100" and body["role"] == "student"
        assert body["courses"] == ["course_tik_01"] and body["expires_in"] == 600
        again = await http.post("/auth/session", json={"ticket": page["ticket"]})
        refused(again, "UNAUTHORIZED")  # the launch ticket works once
        bearer = {"Authorization": f"Bearer {body['token']}"}
        me = (await http.get("/auth/me", headers=bearer)).json()
        assert me["auth_mode"] == "lti" and me["user_id"] == "lms:u-100"
        ticket = (await http.post("/auth/ticket", json={}, headers=bearer)).json()["ticket"]
    ws = await websockets.connect(stream_url(tutor, ticket=ticket, course_id="course_tik_01"))
    async with ws:
        hello = await recv(ws)
        assert hello["type"] == "connection" and hello["user_id"] == "lms:u-100"
        turn = await ask(ws, "Apa itu manajemen infrastruktur TI?")
    assert turn.final["type"] == "chat_response"


async def test_login_binds_the_state_to_the_browser(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        started = await http.get(
            "/lti/login",
            params={"iss": lms.issuer, "login_hint": "learner", "client_id": lms.client_id},
        )
        cookie = started.headers["set-cookie"]
        assert cookie.startswith("lti_state_") and "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie and "Path=/lti/" in cookie  # plain http: no None
        assert query_of(started.headers["location"])["state"] not in cookie  # a hash, not state


async def test_launch_from_another_browser_is_refused(tutor: str, lms: SimulatedLms) -> None:
    """Login CSRF: the attacker logs in, the victim's browser posts the attacker's launch."""
    async with httpx.AsyncClient(base_url=tutor) as attacker:
        auth = await login(attacker, lms, "learner")
        async with httpx.AsyncClient() as browser:
            form = (await browser.get(f"{lms.url}/authorize", params=auth)).json()
        [binding] = list(attacker.cookies.jar)
        async with httpx.AsyncClient(base_url=tutor) as victim:
            body = refused(await launch(victim, form["id_token"], form["state"]), "UNAUTHORIZED")
            assert "did not start in this browser" in body["detail"]
            wrong = copy.copy(binding)
            wrong.value = "0" * 64  # a cookie of the right name with a wrong hash
            victim.cookies.jar.set_cookie(wrong)
            refused(await launch(victim, form["id_token"], form["state"]), "UNAUTHORIZED")
            page = await victim.post(
                "/lti/launch",
                data={"id_token": form["id_token"], "state": form["state"]},
                headers={"Accept": "text/html"},
            )
            assert page.status_code == 401 and "new window" in page.text
        done = await launch(attacker, form["id_token"], form["state"])  # its own browser: fine
        assert done.status_code == 303, done.text
        assert "Max-Age=0" in done.headers["set-cookie"]  # the spent state's cookie is dropped
        refused(await launch(attacker, form["id_token"], form["state"]), "UNAUTHORIZED")


async def test_tool_publishes_its_jwks(tutor: str) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        keys = (await http.get("/lti/jwks")).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"
    assert keys[0]["kid"] and "d" not in keys[0]  # public half only


async def test_tampered_signature_is_refused(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        auth = await login(http, lms, "learner")
        token = lms.keys.sign(lms.claims(lms.users["learner"], auth["nonce"]))
        header, payload, signature = token.split(".")
        tampered = f"{header}.{payload}.{signature[:-6]}AAAAAA"
        refused(await launch(http, tampered, auth["state"]), "UNAUTHORIZED")


async def test_promoted_role_in_a_tampered_payload_is_refused(
    tutor: str, lms: SimulatedLms
) -> None:
    import base64
    import json

    async with httpx.AsyncClient(base_url=tutor) as http:
        auth = await login(http, lms, "learner")
        token = lms.keys.sign(lms.claims(lms.users["learner"], auth["nonce"]))
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["https://purl.imsglobal.org/spec/lti/claim/roles"] = [INSTRUCTOR]
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        refused(await launch(http, f"{header}.{forged}.{signature}", auth["state"]), "UNAUTHORIZED")


async def test_wrong_audience_is_refused(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        auth = await login(http, lms, "learner")
        claims = lms.claims(lms.users["learner"], auth["nonce"], aud="some-other-tool")
        body = refused(await launch(http, lms.keys.sign(claims), auth["state"]), "UNAUTHORIZED")
    assert "aud" in body["detail"]


async def test_replayed_launch_is_refused(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        auth = await login(http, lms, "learner")
        async with httpx.AsyncClient() as browser:
            form = (await browser.get(f"{lms.url}/authorize", params=auth)).json()
        bound = list(http.cookies.jar)  # the browser binding, kept to replay with it
        assert (await launch(http, form["id_token"], form["state"])).status_code == 303
        for cookie in bound:
            http.cookies.jar.set_cookie(cookie)
        body = refused(await launch(http, form["id_token"], form["state"]), "UNAUTHORIZED")
        assert "already used" in body["detail"]  # the state (and its nonce) worked once
        # the same id_token under a fresh login: its nonce is not the one bound to that state
        other = await login(http, lms, "learner")
        refused(await launch(http, form["id_token"], other["state"]), "UNAUTHORIZED")


async def test_expired_launch_is_refused(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        auth = await login(http, lms, "learner")
        claims = lms.claims(lms.users["learner"], auth["nonce"], iat=1_000, exp=2_000)
        body = refused(await launch(http, lms.keys.sign(claims), auth["state"]), "UNAUTHORIZED")
    assert "expired" in body["detail"]


async def test_unknown_deployment_is_refused(tutor: str, lms: SimulatedLms) -> None:
    claim = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
    async with httpx.AsyncClient(base_url=tutor) as http:
        auth = await login(http, lms, "learner")
        claims = lms.claims(lms.users["learner"], auth["nonce"], **{claim: "deploy-unknown"})
        body = refused(await launch(http, lms.keys.sign(claims), auth["state"]), "UNAUTHORIZED")
    assert "deployment" in body["detail"]


async def test_unknown_role_is_refused(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        refused(await full_launch(http, lms, "guest"), "FORBIDDEN")


async def test_unmapped_lms_course_is_refused(tutor: str, lms: SimulatedLms) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        refused(await full_launch(http, lms, "elsewhere"), "FORBIDDEN")


async def test_unknown_platform_is_refused_at_login(tutor: str) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        response = await http.get(
            "/lti/login",
            params={"iss": "https://rogue.example", "login_hint": "x"},
            headers={"Accept": "text/html"},
        )
    assert response.status_code == 401 and "not registered" in response.text


async def test_instructor_is_staff_and_losing_the_role_revokes_the_session(
    tutor: str, lms: SimulatedLms
) -> None:
    async with httpx.AsyncClient(base_url=tutor) as http:
        page = query_of((await full_launch(http, lms, "teacher")).headers["location"])
        session = (await http.post("/auth/session", json={"ticket": page["ticket"]})).json()
        assert session["role"] == "staff"
        bearer = {"Authorization": f"Bearer {session['token']}"}
        assert (await http.get("/auth/me", headers=bearer)).status_code == 200
        # the LMS roster changes: the same user now launches with a role the tool does not map
        lms.users["teacher"].roles = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"]
        try:
            refused(await full_launch(http, lms, "teacher"), "FORBIDDEN")
        finally:
            lms.users["teacher"].roles = [INSTRUCTOR]
        ticket = (await http.post("/auth/ticket", json={}, headers=bearer)).json()["ticket"]
    ws = await websockets.connect(stream_url(tutor, ticket=ticket))
    async with ws:
        frame = await recv(ws)
    assert frame["type"] == "error" and frame["error_code"] == "FORBIDDEN"


async def test_roster_sync_revokes_a_student_removed_in_the_lms(
    tutor: str, lms: SimulatedLms
) -> None:
    lms.tool_jwks_url = f"{tutor}/lti/jwks"
    async with httpx.AsyncClient(base_url=tutor) as http:
        learner = query_of((await full_launch(http, lms, "learner")).headers["location"])
        student = (await http.post("/auth/session", json={"ticket": learner["ticket"]})).json()
        teacher = query_of((await full_launch(http, lms, "teacher")).headers["location"])
        staff = (await http.post("/auth/session", json={"ticket": teacher["ticket"]})).json()
        student_auth = {"Authorization": f"Bearer {student['token']}"}
        ticket = (await http.post("/auth/ticket", json={}, headers=student_auth)).json()["ticket"]
        ws = await websockets.connect(stream_url(tutor, ticket=ticket))
        async with ws:
            assert (await recv(ws))["type"] == "connection"
            assert (await ask(ws, "Apa itu manajemen infrastruktur TI?")).final[
                "type"
            ] == "chat_response"
            denied = await http.post(
                "/lti/roster/sync", json={"course_id": "course_tik_01"}, headers=student_auth
            )
            refused(denied, "FORBIDDEN")  # students cannot trigger it
            lms.users["learner"].active = False  # removed from the LMS course
            try:
                synced = await http.post(
                    "/lti/roster/sync",
                    json={"course_id": "course_tik_01"},
                    headers={"Authorization": f"Bearer {staff['token']}"},
                )
            finally:
                lms.users["learner"].active = True
            assert synced.status_code == 200, synced.text
            assert (
                "lms:u-100" in synced.json()["revoked"]
                and "lms:u-200" not in synced.json()["revoked"]
            )
            assert synced.json()["members"] == 3  # learner, teacher, guest over two pages
            frame = (await ask(ws, "Apa itu manajemen infrastruktur TI?")).final
    assert frame["type"] == "error" and frame["error_code"] == "FORBIDDEN"
    assert lms.tokens_issued >= 1
