"""What a finished turn adds to the metrics (kept out of the WebSocket session: one call there)."""

from __future__ import annotations

from app.db.records import TurnRecord
from app.observability.metrics import Metrics
from app.ws.stream import StreamState


def observe_turn(metrics: Metrics, record: TurnRecord, state: StreamState) -> None:
    completed = record.status == "completed"
    source = record.response_source if completed else record.status
    usage = state.result.usage if state.result is not None else []
    seconds = record.latency_ms / 1000 if completed else None
    metrics.turn_finished(record.course_id, source, seconds, usage)
    if record.first_chunk_ms is not None:
        metrics.first_chunk.observe(record.first_chunk_ms / 1000)
