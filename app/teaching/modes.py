"""Which answer mode applies to a turn: one decision, made here.

``direct`` answers the question; ``guided`` (for exercises and assignments) gives a hint, asks a
question back and points to the page instead of a full solution. Modes come from two places and
two levels: course.yaml (written into Redis at ingest) and a lecturer's switch at run time, each
for the whole course or one material. Precedence, first match wins:

1. the lecturer's run-time mode for a material the turn draws on,
2. the lecturer's run-time mode for the course,
3. course.yaml's mode for a material the turn draws on,
4. course.yaml's mode for the course,
5. ``direct``.

A run-time course switch is the lecturer's latest word for the whole course (to keep one material
different, switch that material too). When a turn draws on several materials (the page the
student has open, the materials of its sources) and they disagree at the same level, ``guided``
wins: a tutor that may give away a solution must not, just because a second source was direct.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

AnswerMode = Literal["direct", "guided"]
ANSWER_MODES: tuple[AnswerMode, ...] = ("direct", "guided")
DEFAULT_MODE: AnswerMode = "direct"


@dataclass(frozen=True)
class ModeLayer:
    """One source of modes (course.yaml or the lecturer's switches)."""

    course: AnswerMode | None = None
    materials: Mapping[str, AnswerMode] = field(default_factory=dict)

    def for_materials(self, material_ids: Iterable[str]) -> AnswerMode | None:
        found = {self.materials[m] for m in material_ids if m in self.materials}
        if not found:
            return None
        return "guided" if "guided" in found else "direct"


def resolve_mode(
    declared: ModeLayer, runtime: ModeLayer, material_ids: Iterable[str] = ()
) -> AnswerMode:
    materials = list(dict.fromkeys(material_ids))
    for choice in (
        runtime.for_materials(materials),
        runtime.course,
        declared.for_materials(materials),
        declared.course,
    ):
        if choice is not None:
            return choice
    return DEFAULT_MODE


def parse_mode(value: object) -> AnswerMode | None:
    """A stored or declared mode, or None for anything else (absent, blank, misspelt)."""
    text = value.decode() if isinstance(value, bytes) else value
    if isinstance(text, str) and text.strip().lower() in ANSWER_MODES:
        return "guided" if text.strip().lower() == "guided" else "direct"
    return None
