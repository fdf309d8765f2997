from __future__ import annotations

import yaml

from app.core.schema import SCHEMA_FILE, ChunkField, load_chunk_schema, model_slug


def test_field_constants_match_the_yaml_schema() -> None:
    names = {field["name"] for field in yaml.safe_load(SCHEMA_FILE.read_text())["fields"]}
    assert names == {f.value for f in ChunkField}


def test_index_name_prefix_and_dims_carry_the_embedding_model() -> None:
    a = load_chunk_schema("tutor", "multilingual-e5-small-q4", 384)
    b = load_chunk_schema("tutor", "text-embedding-3-small", 1536)
    assert a.index.name != b.index.name and a.index.prefix != b.index.prefix
    assert "384" in a.index.name and "1536" in b.index.prefix
    assert a.fields["vector"].attrs.dims == 384 and b.fields["vector"].attrs.dims == 1536
    assert a.fields["course_id"].attrs.case_sensitive is True
    assert a.fields["page"].type == "numeric"


def test_model_slug_is_key_safe() -> None:
    assert model_slug("Some Model/v2", 768) == "some-model-v2-768"
