"""One settings object for the server, ingestion and the ops scripts.

Environment variable names follow the protocol document (``OPENAI_*``, ``RAG_*``, ``REDIS_*_URL``,
``DATABASE_URL``, ``LOG_LEVEL``, ``VECTOR_DIMENSION``); the rest are ours and are all listed in
``.env.example``. Nothing here is built at import time: call :func:`get_settings` (or construct
:class:`Settings` directly in tests).
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

LOCAL_EMBEDDING_MODEL = "multilingual-e5-small-q4"
LOCAL_EMBEDDING_DIMS = 384
OPENAI_EMBEDDING_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
LOCAL_LLM_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"

# A distance cut that suits one model is wrong for another, so the default follows the model.
# The local model's values are calibrated on the project's data (docs/benchmarks.md): retrieval,
# the smallest cut keeping >= 95% of the right pages top-5 retrieval finds ("Retrieval quality");
# cache, the largest cut keeping wrong answers <= 1% ("Semantic cache"). The OpenAI values are
# NOT measured (no key where this was built): starting points only. With a key, run `make eval`
# and `python -m bench.cache_workload` and set RAG_DISTANCE_THRESHOLD / CACHE_DISTANCE_THRESHOLD.
DEFAULT_DISTANCE_THRESHOLD = {
    LOCAL_EMBEDDING_MODEL: 0.16,
    "text-embedding-3-small": 0.55,
    "text-embedding-3-large": 0.55,
    "text-embedding-ada-002": 0.25,
}
DEFAULT_CACHE_DISTANCE_THRESHOLD = {
    LOCAL_EMBEDDING_MODEL: 0.025,
    "text-embedding-3-small": 0.10,
    "text-embedding-3-large": 0.10,
    "text-embedding-ada-002": 0.05,
}

# USD per 1k tokens (input, output). Local models cost nothing. Override with MODEL_PRICING (JSON).
DEFAULT_PRICING: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4o-nano": (0.0001, 0.0004),
    "gpt-4.1-mini": (0.0004, 0.0016),
    "gpt-4.1-nano": (0.0001, 0.0004),
    "gpt-4o": (0.0025, 0.01),
}


class EmbeddingProvider(StrEnum):
    AUTO = "auto"
    OPENAI = "openai"
    LOCAL = "local"


class Settings(BaseSettings):
    """Every knob of the project. Field names map to environment variables case-insensitively."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    # --- OpenAI or any OpenAI-compatible server -------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_api_base: str | None = None
    openai_model_comprehensive: str | None = None
    openai_model_personalized: str | None = None
    openai_temperature: float = Field(0.7, ge=0.0, le=2.0)
    openai_max_tokens: int = Field(1000, ge=1, le=32768)
    openai_timeout_seconds: float = Field(120.0, gt=0)
    llm_context_window: int = Field(8192, ge=512)
    model_pricing: Annotated[dict[str, tuple[float, float]], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_PRICING)
    )

    # --- Local LLM server (llama.cpp), used when no OPENAI_API_KEY / OPENAI_API_BASE is given ----
    local_llm_host: str = "127.0.0.1"
    local_llm_port: int = 8091
    local_llm_model_file: str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    local_llm_threads: int = Field(0, ge=0)
    local_llm_n_ctx: int = Field(4096, ge=512)
    model_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "course-tutor" / "models"
    )

    # --- Embeddings ------------------------------------------------------------------------------
    embedding_provider: EmbeddingProvider = EmbeddingProvider.AUTO
    openai_embedding_model: str = "text-embedding-3-small"
    vector_dimension: int | None = Field(None, ge=8, le=8192)
    embedding_batch_size: int = Field(32, ge=1, le=2048)

    # --- Retrieval -------------------------------------------------------------------------------
    rag_top_k: int = Field(5, ge=1, le=50)
    rag_distance_threshold: float | None = Field(None, ge=0.0, le=2.0)
    # Legacy: true = the RediSearch BM25 leg instead of RAG_LEXICAL (it scores below the
    # in-process leg on every set, docs/benchmarks.md); ``lexical_leg`` decides.
    rag_hybrid: bool = False
    rag_max_context_chars: int | None = Field(None, ge=300)

    # --- Query path components (app/rag): lexical leg, cross-lingual search, rerank, refusal ------
    # Measured choices (docs/benchmarks.md, "Right page for student questions"), all wired into the
    # server's turn (app/services/query_parts.py builds them for the server and the eval alike).
    # Lexical leg fused with dense: bm25 (in-process, per course) | redisearch (legacy) | off.
    rag_lexical: Literal["bm25", "redisearch", "off"] = "bm25"
    # Seconds a question waits for its course's first BM25 index build (then dense only until
    # it is ready; a rebuild after re-ingest never makes anyone wait: the old index serves).
    rag_lexical_build_wait_seconds: float = Field(2.0, ge=0.0, le=120.0)
    # Stemming of the in-process BM25 leg: none | snowball | sastrawi (Indonesian roots +
    # Snowball for English).
    rag_lexical_stemming: Literal["none", "snowball", "sastrawi"] = "sastrawi"
    rag_lexical_pool: int = Field(20, ge=1, le=200)  # candidates per leg before fusion
    rag_lexical_weight: float = Field(1.25, ge=0.0, le=10.0)  # fusion weight of BM25 (dense = 1)
    # How one query's legs are fused: zscore (each leg's scores z-scored over its list, weighted,
    # added; app/rag/score_fusion.py) | rrf (weighted reciprocal rank). A leg without scores
    # (the legacy RediSearch one) is always fused by rank.
    rag_fusion: Literal["rrf", "zscore"] = "zscore"
    rag_lexical_max_courses: int = Field(64, ge=1)  # per-course BM25 indexes kept in memory
    # Also search with the question in the material's language: off | glossary | llm.
    rag_crosslingual: Literal["off", "glossary", "llm"] = "glossary"
    rag_translation_timeout_seconds: float = Field(8.0, gt=0)
    rag_translation_cache_ttl_seconds: int = Field(30 * 24 * 3600, ge=1)
    # Rerank the fused candidates: off | llm (the answer model picks the chunks that answer).
    rag_rerank: Literal["off", "llm"] = "off"
    rag_rerank_candidates: int = Field(10, ge=1, le=50)
    # "Not covered" before the LLM (app/rag/refusal.py), decided on the retrieved chunks: the
    # closest one farther than REFUSAL_MAX_DISTANCE (the lexical test is off by default). With the
    # gate on, distance_cutoff drops only chunks farther than max(RAG_DISTANCE_THRESHOLD, it).
    rag_refusal: bool = True
    refusal_max_distance: float = Field(0.20, ge=0.0, le=2.0)
    refusal_lexical_distance: float = Field(0.13, ge=0.0, le=2.0)
    refusal_min_coverage: float = Field(0.0, ge=0.0, le=1.0)
    refusal_max_unknown: float = Field(1.01, ge=0.0, le=1.01)
    # Check the finished answer against its sources: off | not_covered (any unsupported sentence)
    # | remove (unsupported sentences dropped; not covered when fewer than half are supported).
    # The streamed text is already out: chat_response.response carries the checked text.
    rag_grounding: Literal["off", "not_covered", "remove"] = "remove"
    grounding_min_support: float = Field(0.5, ge=0.0, le=1.0)

    # --- Redis -----------------------------------------------------------------------------------
    redis_knowledge_url: str = "redis://127.0.0.1:6380/0"
    redis_cache_url: str = "redis://127.0.0.1:6380/0"
    redis_stack_port: int = 6380
    redis_timeout_seconds: float = Field(5.0, gt=0)
    key_prefix: str = Field("tutor", pattern=r"^[A-Za-z0-9_\-]+$")

    # --- Semantic cache --------------------------------------------------------------------------
    cache_enabled: bool = True
    cache_distance_threshold: float | None = Field(None, ge=0.0, le=1.0)
    cache_ttl_seconds: int = Field(7 * 24 * 3600, ge=1)

    # --- Personalization and history -------------------------------------------------------------
    personalization_enabled: bool = True
    history_turns: int = Field(4, ge=0, le=20)

    # --- Database --------------------------------------------------------------------------------
    database_url: str | None = None
    database_timeout_seconds: float = Field(5.0, gt=0)
    db_auto_migrate: bool = True

    # --- WebSocket -------------------------------------------------------------------------------
    ws_idle_timeout_seconds: float = Field(300.0, gt=0)
    ws_max_message_bytes: int = Field(16 * 1024, ge=1024)
    # permessage-deflate: keeps ~40 KiB of zlib state per open connection for ~6 KB saved per
    # answer (docs/benchmarks.md, load (g)), so it is off unless asked for.
    ws_compression: bool = False
    stream_flush_interval_ms: int = Field(80, ge=0, le=5000)
    stream_min_chunk_chars: int = Field(24, ge=1)
    rate_limit_requests: int = Field(20, ge=0)
    rate_limit_window_seconds: int = Field(60, ge=1)
    presence_heartbeat_seconds: float = Field(15.0, gt=0)
    # An answer whose socket dropped without a close frame keeps running this long, its frames
    # kept in Redis for a `resume` from any worker (0: no resume; a drop cancels the answer).
    resume_window_seconds: float = Field(60.0, ge=0, le=3600)

    # --- Identity and access (docs/security.md) --------------------------------------------------
    # none: the claimed user_id, for a laptop (loopback only unless AUTH_ALLOW_INSECURE=true);
    # token: signed JWTs from your identity provider; lti: launches from an LMS (LTI 1.3).
    auth_mode: Literal["none", "token", "lti"] = "none"
    auth_allow_insecure: bool = False
    auth_jwt_secret: SecretStr | None = None  # HS256; at least 32 characters
    auth_jwks_url: str | None = None  # RS256 / ES256 keys of the identity provider
    auth_audience: str = "course-tutor"
    auth_issuer: str | None = None
    auth_leeway_seconds: int = Field(30, ge=0, le=300)
    auth_max_token_lifetime_seconds: int = Field(24 * 3600, ge=60)
    auth_jwks_cache_seconds: int = Field(3600, ge=0)
    auth_jwks_min_refresh_seconds: float = Field(10.0, ge=0)
    auth_ticket_ttl_seconds: int = Field(30, ge=5, le=300)
    auth_session_secret: SecretStr | None = None  # signs browser session tokens
    auth_session_ttl_seconds: int = Field(3600, ge=60)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    public_url: str | None = None  # e.g. https://tutor.example.edu (LTI redirect URI, Origin)
    rate_limit_ip_requests: int = Field(120, ge=0)
    ws_max_connections_per_user: int = Field(5, ge=0)
    ws_max_connections_per_ip: int = Field(200, ge=0)
    user_daily_token_budget: int = Field(0, ge=0)
    lti_platforms_file: Path = PROJECT_ROOT / "lti-platforms.yaml"
    lti_private_key_file: Path | None = None  # default: DATA_DIR/lti/tool-key.pem
    lti_state_ttl_seconds: int = Field(600, ge=30)
    lti_roster_sync_seconds: int = Field(0, ge=0)  # 0 = only on demand (POST /lti/roster/sync)
    # --- Teaching loop: curated answers, course insights, weekly digest --------------------------
    # Question-to-curated-question cut; empty = the embedding model's calibrated default.
    curated_distance_threshold: float | None = Field(None, ge=0.0, le=1.0)
    insights_topic_distance: float = Field(0.12, gt=0.0, le=1.0)
    insights_gap_distance: float = Field(0.08, gt=0.0, le=1.0)
    insights_max_turns: int = Field(2000, ge=10, le=20000)
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_from: str = "course-tutor@localhost"
    smtp_timeout_seconds: float = Field(20.0, gt=0)
    digest_weekday: int = Field(0, ge=0, le=6)  # 0 = Monday
    digest_hour_utc: int = Field(6, ge=0, le=23)
    digest_check_seconds: float = Field(300.0, gt=0)

    # --- Files and logging -----------------------------------------------------------------------
    data_dir: Path = PROJECT_ROOT / "var"
    courses_dir: Path = PROJECT_ROOT / "courses"
    chunk_size_words: int = Field(180, ge=20, le=400)
    chunk_overlap_words: int = Field(30, ge=0, le=200)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1, le=64)

    # --- OCR of scanned pages (Tesseract; ingestion only) ----------------------------------------
    ocr_enabled: bool = True
    # Tesseract languages when course.yaml names none (neither `ocr_languages` nor `language`).
    ocr_languages: str = Field("ind+eng", pattern=r"^[a-z][a-z_]*(\+[a-z][a-z_]*)*$")
    ocr_dpi: int = Field(200, ge=100, le=600)
    ocr_workers: int = Field(0, ge=0, le=64)  # pages read in parallel; 0 = one per CPU core
    ocr_min_confidence: float = Field(0.6, ge=0.0, le=1.0)  # below: reported, not indexed
    ocr_timeout_seconds: float = Field(300.0, gt=0)  # per page
    ocr_cache_dir: Path | None = None  # default DATA_DIR/ocr-cache
    tesseract_cmd: str = "tesseract"

    @property
    def resolved_ocr_cache_dir(self) -> Path:
        if self.ocr_cache_dir is None:
            return self.data_dir / "ocr-cache"
        folder = self.ocr_cache_dir.expanduser()
        return folder if folder.is_absolute() else PROJECT_ROOT / folder

    # --- Query pipeline: node postprocessors after retrieval (app/rag/chain.py) ------------------
    # Comma-separated, in order: registered names or dotted import paths of LlamaIndex
    # BaseNodePostprocessors (rerankers included). Keep distance_cutoff first, prompt_budget last.
    rag_postprocessors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["distance_cutoff", "prompt_budget"], min_length=1
    )

    @field_validator("rag_postprocessors", mode="before")
    @classmethod
    def _split_postprocessors(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    # --- Scaling and operations (several workers and machines) -----------------------------------
    # Threads of the local embedding model per worker; 0 = the machine's cores ÷ WORKERS.
    embedding_threads: int = Field(0, ge=0, le=256)
    # Questions embedded together at most (questions that arrive together share one model call).
    # Small batches embed as fast here and keep a burst's memory low (docs/benchmarks.md, load (g)).
    query_batch_size: int = Field(8, ge=1, le=1024)
    # Prometheus /metrics; with several workers their samples are merged from METRICS_DIR.
    metrics_enabled: bool = True
    metrics_dir: Path | None = None
    # OpenTelemetry tracing (needs the `otel` extra): one span per turn, LlamaIndex's spans inside.
    otel_enabled: bool = False
    # OTLP/HTTP collector base URL (the standard variable; "/v1/traces" is appended). Unset: the
    # exporter's own default (http://localhost:4318).
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "course-tutor"
    # "json": one JSON object per log line, with connection and turn ids.
    log_format: Literal["text", "json"] = "text"
    # On shutdown (SIGTERM): seconds streaming answers get to finish before sockets are closed.
    shutdown_grace_seconds: float = Field(30.0, ge=0, le=3600)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator(
        "model_dir", "data_dir", "courses_dir", "lti_platforms_file", "metrics_dir", mode="after"
    )
    @classmethod
    def _anchor_path(cls, value: Path | None) -> Path | None:
        """``~`` expands; relative paths are relative to the project, not to the current folder."""
        if value is None:
            return None
        value = value.expanduser()
        return value if value.is_absolute() else PROJECT_ROOT / value

    @field_validator("openai_api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model_pricing", mode="before")
    @classmethod
    def _parse_pricing(cls, value: object) -> object:
        if isinstance(value, str):
            parsed = json.loads(value) if value.strip() else {}
            merged = dict(DEFAULT_PRICING)
            merged.update({k: (float(v[0]), float(v[1])) for k, v in parsed.items()})
            return merged
        return value

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        secret = self.auth_jwt_secret.get_secret_value() if self.auth_jwt_secret else ""
        if secret and len(secret) < 32:
            raise ValueError("AUTH_JWT_SECRET must be at least 32 characters (HS256 key).")
        if self.auth_mode == "token" and not (secret or self.auth_jwks_url):
            raise ValueError("AUTH_MODE=token needs AUTH_JWT_SECRET or AUTH_JWKS_URL.")
        session = self.auth_session_secret
        if session is not None and len(session.get_secret_value()) < 32:
            raise ValueError("AUTH_SESSION_SECRET must be at least 32 characters.")
        if self.auth_session_ttl_seconds > self.auth_max_token_lifetime_seconds:
            raise ValueError(
                "AUTH_SESSION_TTL_SECONDS may not exceed AUTH_MAX_TOKEN_LIFETIME_SECONDS."
            )
        return self

    @model_validator(mode="after")
    def _check_dimension(self) -> Settings:
        expected = self.embedding_dims_for_model
        if self.vector_dimension is not None and expected != self.vector_dimension:
            raise ValueError(
                f"VECTOR_DIMENSION={self.vector_dimension} does not match the embedding model "
                f"{self.embedding_model_name!r}, which produces {expected} dimensions. "
                "Unset VECTOR_DIMENSION or choose the matching model."
            )
        return self

    # --- Derived values --------------------------------------------------------------------------
    @property
    def uses_openai_embeddings(self) -> bool:
        if self.embedding_provider is EmbeddingProvider.AUTO:
            return self.openai_api_key is not None
        return self.embedding_provider is EmbeddingProvider.OPENAI

    @property
    def embedding_model_name(self) -> str:
        return self.openai_embedding_model if self.uses_openai_embeddings else LOCAL_EMBEDDING_MODEL

    @property
    def embedding_dims_for_model(self) -> int:
        if not self.uses_openai_embeddings:
            return LOCAL_EMBEDDING_DIMS
        return OPENAI_EMBEDDING_DIMS.get(self.openai_embedding_model, self.vector_dimension or 1536)

    @property
    def embedding_dims(self) -> int:
        return self.vector_dimension or self.embedding_dims_for_model

    @property
    def uses_local_llm(self) -> bool:
        """No key and no endpoint of the user's: the project's own llama.cpp server answers."""
        return self.openai_api_key is None and self.openai_api_base is None

    @property
    def llm_api_base(self) -> str | None:
        if self.openai_api_base:
            return self.openai_api_base
        if self.uses_local_llm:
            return f"http://{self.local_llm_host}:{self.local_llm_port}/v1"
        return None

    @property
    def model_comprehensive(self) -> str:
        if self.openai_model_comprehensive:
            return self.openai_model_comprehensive
        return LOCAL_LLM_MODEL if self.uses_local_llm else "gpt-4o-mini"

    @property
    def model_personalized(self) -> str:
        if self.openai_model_personalized:
            return self.openai_model_personalized
        return LOCAL_LLM_MODEL if self.uses_local_llm else "gpt-4o-nano"

    @property
    def distance_threshold(self) -> float:
        if self.rag_distance_threshold is not None:
            return self.rag_distance_threshold
        return DEFAULT_DISTANCE_THRESHOLD.get(self.embedding_model_name, 0.3)

    @property
    def lexical_leg(self) -> str:
        """The lexical leg fused with dense: ``bm25``, ``redisearch`` (RAG_HYBRID) or ``off``."""
        return "redisearch" if self.rag_hybrid else self.rag_lexical

    @property
    def chunk_cutoff(self) -> float:
        """What ``distance_cutoff`` keeps: with the refusal gate deciding "not covered" on the
        closest chunk, the per-chunk cut never refuses what the gate let through."""
        if self.rag_refusal:
            return max(self.distance_threshold, self.refusal_max_distance)
        return self.distance_threshold

    @property
    def cache_threshold(self) -> float:
        if self.cache_distance_threshold is not None:
            return self.cache_distance_threshold
        return DEFAULT_CACHE_DISTANCE_THRESHOLD.get(self.embedding_model_name, 0.1)

    @property
    def context_chars(self) -> int:
        """Source text per prompt: the local CPU model reads ~80 tokens/s, so keep it short."""
        if self.rag_max_context_chars is not None:
            return self.rag_max_context_chars
        return 1200 if self.uses_local_llm else 6000

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'tutor.db'}"

    @property
    def embedding_thread_count(self) -> int:
        if self.embedding_threads > 0:
            return self.embedding_threads
        return max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def resolved_metrics_dir(self) -> Path:
        return self.metrics_dir or self.data_dir / "metrics"

    def price_of(self, model: str) -> tuple[float, float]:
        """USD per 1k (input, output) tokens; unknown and local models are free."""
        return self.model_pricing.get(model, (0.0, 0.0))


def get_settings(**overrides: object) -> Settings:
    """Read the environment (and ``.env``) into a fresh :class:`Settings`."""
    return Settings(**overrides)  # type: ignore[arg-type]
