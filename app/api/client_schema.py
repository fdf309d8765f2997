"""One JSON Schema of everything a client sees: the `/ws/stream` frames both ways, the error codes,
`/ws/status` and the HTTP bodies the pages read. The TypeScript client's types are generated from
it (clients/ts), and tests keep the committed copy equal to this output.

Server frames always carry every field, so every property of a server-side model is marked
required here (pydantic would leave fields with defaults optional); client messages keep their
defaults optional, as the server accepts them.

    python -m app.api.client_schema > clients/ts/schema/protocol.schema.json
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.courses import CoursesResponse
from app.api.rooms import RoomsResponse, RoomTurnsResponse
from app.api.stats import StatsResponse
from app.protocol import messages as m
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


def _strip_titles(node: Any) -> Any:
    """Drop pydantic's per-property titles ("Chunk Index"): they would become stray TS types."""
    if isinstance(node, dict):
        if "$ref" in node:  # a default beside a $ref would make json2ts emit a copy of the type
            return {"$ref": node["$ref"]}
        return {
            k: _strip_titles(v) for k, v in node.items() if k != "title" or "properties" in node
        }
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def schema() -> dict[str, Any]:
    inputs = [(model, "validation") for model in CLIENT_MODELS]
    inputs += [(model, "serialization") for model in (*SERVER_MODELS, *HTTP_MODELS)]
    _, document = models_json_schema(inputs, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = _strip_titles(document["$defs"])
    for name, definition in defs.items():
        definition["title"] = name  # named types (ErrorCode), unnamed inline enums
    client_names = {model.__name__ for model in CLIENT_MODELS}
    for name, definition in defs.items():
        props = definition.get("properties")
        if props is not None and name not in client_names:
            definition["required"] = list(props)
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
