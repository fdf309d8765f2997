"""JSON Schemas of the wire models, as the generated client types and docs/asyncapi.yaml need them.

Server frames always carry every field, so each property of a server-side model is marked
required (pydantic leaves fields with defaults optional); client messages keep their defaults
optional, as the server accepts them. Per-property titles are dropped (code generators turn them
into stray type names); every definition is titled with its model name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema


def _tidy(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:  # a default beside a $ref makes generators copy the referenced type
            return {"$ref": node["$ref"]}
        return {k: _tidy(v) for k, v in node.items() if k != "title" or "properties" in node}
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def wire_schemas(
    client: tuple[type[BaseModel], ...], server: tuple[type[BaseModel], ...], ref_template: str
) -> dict[str, Any]:
    """Definitions of ``client`` and ``server`` models (and what they reference), by name."""
    inputs = [(model, "validation") for model in client]
    inputs += [(model, "serialization") for model in server]
    _, document = models_json_schema(inputs, ref_template=ref_template)  # type: ignore[arg-type]
    defs: dict[str, Any] = _tidy(document["$defs"])
    client_names = {model.__name__ for model in client}
    for name, definition in defs.items():
        definition["title"] = name
        props = definition.get("properties")
        if props is not None and name not in client_names:
            definition["required"] = list(props)
    return dict(sorted(defs.items()))
