"""What a finished turn adds to the metrics (kept out of the WebSocket session: one call there)."""

from __future__ import annotations

from app.db.records import TurnRecord
from app.observability.metrics import Metrics
from app.ws.stream import StreamState


def observe_turn(
    metrics: Metrics, record: TurnRecord, state: StreamState, first_chunk: list[float]
) -> None:
    completed = record.status == "completed"
    source = record.response_source if completed else record.status
    usage = state.result.usage if state.result is not None else []
    seconds = record.latency_ms / 1000 if completed else None
    metrics.turn_finished(record.course_id, source, seconds, usage)
    if first_chunk:
        metrics.first_chunk.observe(first_chunk[0])
