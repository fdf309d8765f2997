"""`/users/{user_id}/profile` over HTTP, on a real SQLite database opened by a real lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.errors import protocol_error_handler
from app.api.profile import router
from app.auth.build import build_authenticator
from app.core.redis import async_client
from app.db.engine import create_engine, run_migrations
from app.db.repository import ChatRepository
from app.protocol.errors import ProtocolError
from tests.support.settings import REDIS_URL, isolated_settings

pytestmark = pytest.mark.integration


def make_app(database: Path) -> FastAPI:
    """AUTH_MODE=none, the default: any caller may read and write any profile (loopback only)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        engine = create_engine(f"sqlite+aiosqlite:///{database}", 5.0)
        redis = async_client(REDIS_URL, 5.0)
        settings = isolated_settings("tprofile", database.parent)
        try:
            await run_migrations(engine)
            auth = await build_authenticator(settings, redis, None)  # type: ignore[arg-type]
            yield {"repository": ChatRepository(engine, 5.0), "auth": auth}
        finally:
            await redis.aclose()
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.add_exception_handler(ProtocolError, protocol_error_handler)
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path / "var" / "tutor.db")) as test_client:
        yield test_client


def test_unknown_user_is_404_with_a_clear_detail(client: TestClient) -> None:
    response = client.get("/users/nobody/profile")
    assert response.status_code == 404
    assert response.json() == {"detail": "No profile stored for user 'nobody'."}


def test_put_then_get(client: TestClient) -> None:
    body = {"level": "beginner", "preferred_language": "id", "study_program": "Informatics"}
    put = client.put("/users/alice@uni.ac.id/profile", json=body)
    assert put.status_code == 200
    assert put.json() == body

    assert client.get("/users/alice@uni.ac.id/profile").json() == body

    replaced = client.put("/users/alice@uni.ac.id/profile", json={"preferred_language": "en"})
    expected = {"level": None, "preferred_language": "en", "study_program": None}
    assert replaced.json() == expected
    assert client.get("/users/alice@uni.ac.id/profile").json() == expected


@pytest.mark.parametrize("user_id", ["bad%20id", "x" * 129, "semi;colon", "ünïcode"])
def test_invalid_user_id_is_422(client: TestClient, user_id: str) -> None:
    assert client.get(f"/users/{user_id}/profile").status_code == 422
    assert client.put(f"/users/{user_id}/profile", json={}).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"preferred_language": "not a language"},
        {"level": "x" * 33},
        {"study_program": ["Informatics"]},
        "just a string",
    ],
)
def test_invalid_body_is_422(client: TestClient, body: object) -> None:
    response = client.put("/users/alice/profile", json=body)
    assert response.status_code == 422
    assert client.get("/users/alice/profile").status_code == 404
