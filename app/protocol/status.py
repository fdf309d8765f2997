"""`GET /ws/status` response, field for field as the protocol document shows it."""

from __future__ import annotations

from pydantic import BaseModel

from app.protocol.messages import ADDED_CLIENT_TYPES, CLIENT_TYPES, SERVER_TYPES


class SupportedFeatures(BaseModel):
    streaming: bool = True
    database_integration: bool = True
    cache_integration: bool
    token_tracking: bool = True
    bidirectional: bool = True
    personalization: bool
    sources_metadata: bool = True
    page_tracking: bool = True
    cost_tracking: bool = True


class PerformanceStats(BaseModel):
    avg_response_time_ms: float
    cache_hit_rate: float
    avg_tokens_per_response: float
    active_chats: int
    total_requests_today: int


class StatusResponse(BaseModel):
    websocket_status: str = "active"
    active_connections: int
    connected_users: list[str]
    endpoint: str = "/ws/stream"
    server_time: str
    uptime: int
    message_types: list[str] = list(CLIENT_TYPES)
    # ours: message types beyond the protocol's that this server accepts, so clients can detect them
    added_message_types: list[str] = list(ADDED_CLIENT_TYPES)
    response_types: list[str] = list(SERVER_TYPES)
    supported_features: SupportedFeatures
    performance_stats: PerformanceStats
