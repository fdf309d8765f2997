"""Answer-mode resolution (course.yaml vs. run-time switches, course vs. material) and course.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.teaching.modes import ModeLayer, parse_mode, resolve_mode
from ingest.catalog import CatalogError, load_course

YAML = ModeLayer("direct", {"exercises": "guided", "notes": "direct"})


@pytest.mark.parametrize(
    ("declared", "runtime", "materials", "expected"),
    [
        (ModeLayer(), ModeLayer(), [], "direct"),
        (ModeLayer("guided"), ModeLayer(), [], "guided"),
        (YAML, ModeLayer(), ["exercises"], "guided"),  # material overrides course (yaml)
        (YAML, ModeLayer(), ["notes"], "direct"),
        (YAML, ModeLayer(), ["other"], "direct"),
        (YAML, ModeLayer(), ["notes", "exercises"], "guided"),  # guided wins a disagreement
        (YAML, ModeLayer("guided"), ["notes"], "guided"),  # run time overrides yaml
        (YAML, ModeLayer("direct"), ["exercises"], "direct"),
        (YAML, ModeLayer("direct", {"exercises": "guided"}), ["exercises"], "guided"),
        (YAML, ModeLayer("guided", {"notes": "direct"}), ["notes", "exercises"], "guided"),
        (ModeLayer(None, {"notes": "guided"}), ModeLayer(), [], "direct"),
        (ModeLayer("guided"), ModeLayer(None, {"notes": "direct"}), ["notes"], "direct"),
    ],
)
def test_precedence(
    declared: ModeLayer, runtime: ModeLayer, materials: list[str], expected: str
) -> None:
    assert resolve_mode(declared, runtime, materials) == expected


def test_parse_mode_accepts_only_the_two_modes() -> None:
    assert parse_mode(b"guided") == "guided" and parse_mode(" Direct ") == "direct"
    assert parse_mode("socratic") is None and parse_mode(None) is None and parse_mode(3) is None


def test_course_yaml_answer_modes(tmp_path: Path) -> None:
    (tmp_path / "latihan.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "modul.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "course.yaml").write_text(
        "answer_mode: direct\nmaterials:\n  - file: latihan.pdf\n    answer_mode: guided\n"
    )
    course = load_course(tmp_path, "course_x")
    assert course.answer_mode == "direct"
    assert {m.material_id: m.answer_mode for m in course.materials} == {
        "latihan": "guided",
        "modul": None,
    }
    (tmp_path / "course.yaml").write_text("answer_mode: socratic\n")
    with pytest.raises(CatalogError, match="answer_mode must be one of direct, guided"):
        load_course(tmp_path, "course_x")


def test_guided_prompt_and_reply_guard() -> None:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    from app.services.prompt import not_covered_message
    from app.teaching.guided_prompt import (
        GuidedReplyGuard,
        guard_reply,
        guided_system_prompt,
        with_guided_system,
    )

    prompt = guided_system_prompt("en")
    assert "Hint:" in prompt and "Read:" in prompt and not_covered_message("en") in prompt
    assert "Petunjuk:" in guided_system_prompt("id") and "Bahasa Indonesia" in guided_system_prompt(
        "id"
    )
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="direct"),
        ChatMessage(role=MessageRole.USER, content="<source>...</source> Question: x"),
    ]
    guided = with_guided_system(messages, "en")
    assert guided[0].content == prompt and guided[1:] == messages[1:]

    reply = "Hint: use 2^n - 2.\nQuestion: which n?\nRead: p. 12\n\nAnswer: 255.255.255.192"
    assert guard_reply(reply, "en") == "Hint: use 2^n - 2.\nQuestion: which n?\nRead: p. 12"
    assert guard_reply("Hint: only a hint.", "en") == "Hint: only a hint."
    guard = GuidedReplyGuard("id")
    pieces = [
        guard.push(d) for d in ("Petunjuk: x\nPertanyaan: y?\nBa", "ca: hal. 3", "\nJawaban: 42")
    ]
    assert "".join(pieces) == "Petunjuk: x\nPertanyaan: y?\nBaca: hal. 3" and guard.done
    assert guard.push("more") == ""
