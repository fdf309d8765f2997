"""Which answer mode applies to a turn: one decision, made here.

``direct`` answers the question; ``guided`` (for exercises and assignments) gives a hint, asks a
question back and points to the page instead of a full solution. Modes come from two places and
two levels: course.yaml (written into Redis at ingest) and a lecturer's switch at run time, each
for the whole course or one material. A material's mode is the first of:

1. the lecturer's run-time mode for that material,
2. the lecturer's run-time mode for the course,
3. course.yaml's mode for that material,
4. course.yaml's mode for the course,
5. ``direct``.

A run-time course switch is the lecturer's latest word for the whole course (to keep one material
different, switch that material too). A turn that draws on several materials (the page the
student has open, the materials of its sources) is guided when any of them is: a tutor that may
give away a solution must not, just because a second source was direct. A turn that draws on no
known material gets the course's mode (steps 2, 4, 5).
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


def _first(*choices: AnswerMode | None) -> AnswerMode:
    return next((c for c in choices if c is not None), DEFAULT_MODE)


def material_mode(declared: ModeLayer, runtime: ModeLayer, material_id: str) -> AnswerMode:
    return _first(
        runtime.materials.get(material_id),
        runtime.course,
        declared.materials.get(material_id),
        declared.course,
    )


def resolve_mode(
    declared: ModeLayer, runtime: ModeLayer, material_ids: Iterable[str] = ()
) -> AnswerMode:
    materials = list(dict.fromkeys(material_ids))
    if not materials:
        return _first(runtime.course, declared.course)
    modes = {material_mode(declared, runtime, m) for m in materials}
    return "guided" if "guided" in modes else "direct"


@dataclass(frozen=True)
class CourseModes:
    """Both layers of one course, read once per turn, resolved for any set of materials."""

    declared: ModeLayer = field(default_factory=ModeLayer)
    runtime: ModeLayer = field(default_factory=ModeLayer)

    def resolve(self, material_ids: Iterable[str] = ()) -> AnswerMode:
        return resolve_mode(self.declared, self.runtime, material_ids)


def parse_mode(value: object) -> AnswerMode | None:
    """A stored or declared mode, or None for anything else (absent, blank, misspelt)."""
    text = value.decode() if isinstance(value, bytes) else value
    if isinstance(text, str) and text.strip().lower() in ANSWER_MODES:
        return "guided" if text.strip().lower() == "guided" else "direct"
    return None
