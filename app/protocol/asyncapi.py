"""Generate docs/asyncapi.yaml (AsyncAPI 3.0) from the message models, like docs/protocol.md.

The document describes the server: it *receives* the client's messages on ``/ws/stream`` and
*sends* the server's frames there. Payload schemas come from the same models the server parses
and sends with; a unit test fails when the committed file differs from :func:`render`.

    python -m app.protocol.asyncapi > docs/asyncapi.yaml
"""

from __future__ import annotations

from typing import Any, get_args

import yaml
from pydantic import BaseModel

from app.protocol import messages as m
from app.protocol.errors import ErrorCode
from app.protocol.jsonschema import wire_schemas

CLIENT: dict[type[BaseModel], str] = {
    m.ChatRequest: "Ask a question; answered by chat_started, chat_chunk frames and chat_response.",
    m.Ping: "Keep-alive; answered by pong at any time, also while an answer streams.",
    m.Disconnect: "Cancel the answer in progress and close the connection (code 1000).",
}
SERVER: dict[type[BaseModel], str] = {
    m.ConnectionMessage: "Sent first, once the connection is accepted.",
    m.ChatStarted: "A chat_request was accepted; the answer follows.",
    m.ChatChunk: "A phrase of the answer; chunk_index counts from 1.",
    m.ChatResponse: "The whole answer with sources, pages, token usage, cost and latency.",
    m.Pong: "The answer to ping.",
    m.ErrorMessage: "A refused request or a failed answer; error_code says which.",
}

DESCRIPTION = (
    "Students ask questions about their course material; answers stream back phrase by phrase "
    "with sources, page numbers, token usage, cost and latency. One answer streams at a time per "
    "connection. A refused connection gets an error frame and is closed with 1008. "
    "docs/protocol.md describes every field; this document is generated from the same models."
)


def _message(model: type[BaseModel], summary: str) -> dict[str, Any]:
    (name,) = get_args(model.model_fields["type"].annotation)  # the Literal's one value
    return {
        "name": name,
        "title": model.__name__,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
    }


def document() -> dict[str, Any]:
    schemas = wire_schemas(tuple(CLIENT), tuple(SERVER), "#/components/schemas/{model}")
    messages = {
        model.__name__: _message(model, text) for model, text in {**CLIENT, **SERVER}.items()
    }

    def refs(models: dict[type[BaseModel], str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/stream/messages/{model.__name__}"} for model in models]

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Course tutor chat stream",
            "version": "1.0.0",
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:8000",
                "protocol": "ws",
                "description": "`make run` on your machine",
            },
            "production": {
                "host": "{host}",
                "protocol": "wss",
                "description": "A deployment behind TLS",
                "variables": {"host": {"default": "tutor.example.edu"}},
            },
        },
        "channels": {
            "stream": {
                "address": "/ws/stream",
                "title": "Chat stream",
                "description": "One connection per student and course.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
                "bindings": {
                    "ws": {
                        "query": {
                            "type": "object",
                            "properties": {
                                "user_id": {
                                    "type": "string",
                                    "pattern": "^[A-Za-z0-9_.@:-]{1,128}$",
                                    "description": "who asks (required unless identity is on)",
                                },
                                "course_id": {
                                    "type": "string",
                                    "description": "absent, empty, null or undefined: all courses",
                                },
                            },
                            "required": ["user_id"],
                        },
                        "bindingVersion": "0.1.0",
                    }
                },
            }
        },
        "operations": {
            "receiveClientMessages": {
                "action": "receive",
                "channel": {"$ref": "#/channels/stream"},
                "summary": "Messages a client sends.",
                "messages": refs(CLIENT),
            },
            "sendServerFrames": {
                "action": "send",
                "channel": {"$ref": "#/channels/stream"},
                "summary": "Frames the server sends.",
                "messages": refs(SERVER),
            },
        },
        "components": {
            "messages": messages,
            "schemas": {
                **schemas,
                "ErrorCode": {
                    **schemas["ErrorCode"],
                    "description": "; ".join(
                        f"{code.value}: {code.spec.message}" for code in ErrorCode
                    ),
                },
            },
        },
    }


def render() -> str:
    header = "# Generated by `python -m app.protocol.asyncapi`. Do not edit.\n"
    return header + yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    print(render(), end="")
