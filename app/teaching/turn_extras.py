"""The teaching loop's part of a student's turn, handed to the turn's assembly in one value:
curated answers before the cache and the LLM, the course's answer modes and the checked page
context in the turn's scope, and the guided prompt for the modes to choose."""

from __future__ import annotations

from app.services.assembly import TurnExtras
from app.teaching.curated_stage import CuratedStage
from app.teaching.guided_prompt import GUIDED_PROMPT
from app.teaching.services import TeachingServices


def turn_extras(teaching: TeachingServices) -> TurnExtras:
    return TurnExtras(
        prepared=(CuratedStage(teaching.matcher),),
        scopes=teaching.scopes,
        prompts={"guided": GUIDED_PROMPT},
    )
