from __future__ import annotations

from pathlib import Path

from app.protocol.doc import PROTOCOL_FIELDS, SECTIONS, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_committed_protocol_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "run: python -m app.protocol.doc > docs/protocol.md"
    )


def test_every_protocol_field_exists_in_our_models() -> None:
    for model, fields in PROTOCOL_FIELDS.items():
        assert fields <= set(model.model_fields), (
            f"{model.__name__} lacks {fields - set(model.model_fields)}"
        )


def test_every_wire_model_is_documented() -> None:
    documented = {model for _, models in SECTIONS for model in models}
    assert documented == set(PROTOCOL_FIELDS)
