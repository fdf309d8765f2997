"""Shared fixtures. Real services only: Redis Stack (started by `make redis` / .ci/run), PostgreSQL
(already running on 127.0.0.1:5432), uvicorn and OpenAI-compatible HTTP servers started here.

Every test gets its own key prefix, so tests never see each other's data (or a developer's).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from app.core.config import Settings
from tests.support.ingest import ingest_paths
from tests.support.scripted_openai import ScriptedOpenAI
from tests.support.settings import REDIS_URL, isolated_settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "samples" / "courses"

SettingsFactory = Callable[..., Settings]


def drop_prefix(url: str, prefix: str) -> None:
    """Remove every key and search index a test created under its prefix."""
    client = redis.Redis.from_url(url)
    try:
        for raw in client.execute_command("FT._LIST"):
            name = raw.decode() if isinstance(raw, bytes) else raw
            if name.startswith(prefix):
                client.execute_command("FT.DROPINDEX", name, "DD")
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


base_settings = isolated_settings


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh key prefix; everything under it is removed after the test."""
    value = f"t{uuid.uuid4().hex[:10]}"
    yield value
    drop_prefix(REDIS_URL, value)


@pytest.fixture
def make_settings(prefix: str, tmp_path: Path) -> SettingsFactory:
    def factory(**overrides: Any) -> Settings:
        return base_settings(prefix, tmp_path, **overrides)

    return factory


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI(embedding_dimensions=1536) as server:
        yield server


@pytest.fixture
def scripted_llm(scripted_server: ScriptedOpenAI) -> Iterator[ScriptedOpenAI]:
    """The session's scripted OpenAI-compatible server, reset for this test."""
    scripted_server.reset()
    yield scripted_server
    scripted_server.reset()


@pytest.fixture(scope="session")
def sample_courses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample course PDFs rendered by the project's own script."""
    from samples.render import render_all

    out = tmp_path_factory.mktemp("courses")
    render_all(SAMPLES, out)
    return out


@pytest.fixture(scope="session")
def sample_index(sample_courses: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A key prefix under which both sample courses are ingested once for the whole session."""
    value = f"ts{uuid.uuid4().hex[:10]}"
    settings = base_settings(value, tmp_path_factory.mktemp("sample-data"))
    for folder in sorted(p for p in sample_courses.iterdir() if p.is_dir()):
        ingest_paths(settings, folder.name, [folder])
    yield value
    drop_prefix(REDIS_URL, value)


@dataclass
class Tutor:
    """A running server over the sample course, talking to the scripted LLM."""

    url: str
    settings: Settings
    llm: ScriptedOpenAI


def reset_runtime_state(url: str, prefix: str) -> None:
    """Clear what one test's server leaves behind under a shared prefix (cache, counters)."""
    client = redis.Redis.from_url(url)
    try:
        for raw in client.execute_command("FT._LIST"):
            name = raw.decode() if isinstance(raw, bytes) else raw
            if name.startswith(f"{prefix}-answers"):
                client.execute_command("FT.DROPINDEX", name, "DD")
        for pattern in (
            f"{prefix}:stats:*",
            f"{prefix}:ratelimit:*",
            f"{prefix}:ws:*",
            f"{prefix}:outbox*",
            f"{prefix}:review:*",
            f"{prefix}:teaching:runtime:*",
            f"{prefix}:digest:*",
            f"{prefix}:room:*",
            f"{prefix}:turn:*",
        ):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def tutor_factory(
    sample_index: str, scripted_llm: ScriptedOpenAI, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """Start the real app (uvicorn) on the sample course index; stops when the test ends."""
    from app.main import create_app
    from tests.support.live_server import live_server

    stack = ExitStack()

    def start(**overrides: Any) -> Tutor:
        values: dict[str, Any] = {
            "openai_api_base": scripted_llm.base_url,
            "openai_model_comprehensive": "gpt-4o-mini",
            "openai_model_personalized": "gpt-4o-nano",
            "stream_flush_interval_ms": 50,
            # the scripted LLM writes filler, not course material: the grounding check (on by
            # default) would turn it into "not covered"; tests/integration/test_query_quality.py
            # and the tests that script material-backed answers switch it on
            "rag_grounding": "off",
        }
        values.update(overrides)
        settings = base_settings(sample_index, tmp_path, **values)
        reset_runtime_state(REDIS_URL, sample_index)
        url = stack.enter_context(live_server(create_app(settings)))
        return Tutor(url, settings, scripted_llm)

    with stack:
        yield start
    reset_runtime_state(REDIS_URL, sample_index)


@pytest.fixture
def tutor(tutor_factory: Callable[..., Tutor]) -> Tutor:
    return tutor_factory()
