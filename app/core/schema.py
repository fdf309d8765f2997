"""The chunk index definition, loaded from ``indexes/course_chunks.yaml``.

The YAML is the single definition; this module only names its fields for Python code and stamps the
embedding model's identity onto the index name, key prefix and vector dimension.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from redisvl.schema import IndexSchema

from app.core.config import PROJECT_ROOT

SCHEMA_FILE = PROJECT_ROOT / "indexes" / "course_chunks.yaml"


class ChunkField(StrEnum):
    """Field names of the chunk index (must match the YAML)."""

    ID = "id"
    DOC_ID = "doc_id"
    TEXT = "text"
    VECTOR = "vector"
    COURSE_ID = "course_id"
    MATERIAL_ID = "material_id"
    FILENAME = "filename"
    PAGE_LABEL = "page_label"
    CHUNK_TYPE = "chunk_type"
    PAGE = "page"
    POSITION = "position"


def model_slug(model_name: str, dims: int) -> str:
    """A key-safe identity of the embedding model, e.g. ``multilingual-e5-small-q4-384``."""
    safe = re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")
    return f"{safe}-{dims}"


def load_chunk_schema(
    key_prefix: str, model_name: str, dims: int, path: Path = SCHEMA_FILE
) -> IndexSchema:
    """The chunk schema for one embedding model: its own index name, prefix and dimension."""
    schema = IndexSchema.from_yaml(str(path))
    slug = model_slug(model_name, dims)
    schema.index.name = f"{key_prefix}-{schema.index.name}-{slug}"
    schema.index.prefix = f"{key_prefix}:{schema.index.prefix}:{slug}"
    vector = schema.fields[ChunkField.VECTOR.value]
    vector.attrs.dims = dims
    return schema
