"""One JSON Schema of everything a client sees: the `/ws/stream` frames both ways, the error codes,
`/ws/status` and the HTTP bodies the pages read. The TypeScript client's types are generated from
it (clients/ts), and tests keep the committed copy equal to this output.

Required fields and titles follow :mod:`app.protocol.jsonschema`.

    python -m app.api.client_schema > clients/ts/schema/protocol.schema.json
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from app.api.courses import CoursesResponse
from app.api.rooms import RoomsResponse, RoomTurnsResponse
from app.api.stats import StatsResponse
from app.protocol import messages as m
from app.protocol.jsonschema import wire_schemas
from app.protocol.status import StatusResponse

CLIENT_MODELS: tuple[type[BaseModel], ...] = (m.ChatRequest, m.Ping, m.Disconnect)
SERVER_MODELS: tuple[type[BaseModel], ...] = (
    m.ConnectionMessage,
    m.ChatStarted,
    m.ChatChunk,
    m.ChatResponse,
    m.Pong,
    m.ErrorMessage,
)
HTTP_MODELS: tuple[type[BaseModel], ...] = (
    StatusResponse,
    CoursesResponse,
    RoomsResponse,
    RoomTurnsResponse,
    StatsResponse,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/$defs/{model.__name__}"}


def schema() -> dict[str, Any]:
    defs = wire_schemas(CLIENT_MODELS, (*SERVER_MODELS, *HTTP_MODELS), "#/$defs/{model}")
    defs["ClientMessage"] = {"oneOf": [_ref(x) for x in CLIENT_MODELS]}
    defs["ServerMessage"] = {"oneOf": [_ref(x) for x in SERVER_MODELS]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "TutorProtocol",
        "description": "Frames of /ws/stream and the HTTP bodies clients read (generated).",
        "type": "object",
        "properties": {
            "client": {"$ref": "#/$defs/ClientMessage"},
            "server": {"$ref": "#/$defs/ServerMessage"},
            **{model.__name__: _ref(model) for model in HTTP_MODELS},
        },
        "$defs": dict(sorted(defs.items())),
        "additionalProperties": False,
    }


def render() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
