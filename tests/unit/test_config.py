from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import LOCAL_EMBEDDING_MODEL, PROJECT_ROOT, Settings

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_VARIABLES = [
    "OPENAI_API_KEY",
    "OPENAI_MODEL_COMPREHENSIVE",
    "OPENAI_MODEL_PERSONALIZED",
    "OPENAI_TEMPERATURE",
    "OPENAI_MAX_TOKENS",
    "RAG_DISTANCE_THRESHOLD",
    "RAG_TOP_K",
    "VECTOR_DIMENSION",
    "REDIS_KNOWLEDGE_URL",
    "REDIS_CACHE_URL",
    "DATABASE_URL",
    "LOG_LEVEL",
]


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})  # type: ignore[arg-type]


def test_protocol_variable_names_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_MODEL_COMPREHENSIVE", "gpt-4o-mini")
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("REDIS_CACHE_URL", "redis://cache:6390/1")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.model_comprehensive, s.rag_top_k, s.redis_cache_url, s.log_level) == (
        "gpt-4o-mini",
        7,
        "redis://cache:6390/1",
        "DEBUG",
    )


def test_every_setting_and_protocol_variable_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set()
    assert set(PROTOCOL_VARIABLES) - documented == set()


def test_defaults_run_offline_on_local_models() -> None:
    s = settings()
    assert s.uses_local_llm and not s.uses_openai_embeddings
    assert s.embedding_model_name == LOCAL_EMBEDDING_MODEL and s.embedding_dims == 384
    assert s.llm_api_base == f"http://127.0.0.1:{s.local_llm_port}/v1"


def test_key_switches_to_openai_and_the_threshold_follows_the_model() -> None:
    local, remote = settings(), settings(OPENAI_API_KEY="sk-test")
    assert remote.uses_openai_embeddings and remote.embedding_dims == 1536
    assert (
        remote.model_comprehensive == "gpt-4o-mini" and remote.model_personalized == "gpt-4o-nano"
    )
    assert local.distance_threshold != remote.distance_threshold
    assert settings(RAG_DISTANCE_THRESHOLD="0.3").distance_threshold == 0.3


def test_vector_dimension_must_match_the_model() -> None:
    with pytest.raises(ValidationError, match="does not match the embedding model"):
        settings(VECTOR_DIMENSION="1536")
    assert settings(VECTOR_DIMENSION="384").embedding_dims == 384


def test_relative_paths_are_anchored_at_the_project_and_home_expands() -> None:
    s = settings(DATA_DIR="var/x", MODEL_DIR="~/models")
    assert s.data_dir == PROJECT_ROOT / "var" / "x"
    assert s.model_dir == Path.home() / "models"


def test_pricing_overrides_merge_with_defaults_and_unknown_models_are_free() -> None:
    s = settings(MODEL_PRICING='{"my-model": [0.001, 0.002]}')
    assert s.price_of("my-model") == (0.001, 0.002)
    assert s.price_of("gpt-4o-mini") == (0.00015, 0.0006)
    assert s.price_of("qwen-local") == (0.0, 0.0)


def test_secret_key_is_not_shown_in_repr() -> None:
    s = settings(OPENAI_API_KEY="sk-very-secret")
    assert "sk-very-secret" not in repr(s) and "sk-very-secret" not in str(s.model_dump())
