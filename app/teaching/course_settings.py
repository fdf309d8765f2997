"""A course's teaching settings in Redis: answer modes (declared in course.yaml and switched by a
lecturer at run time), whether lecturers see student ids in insights, and digest recipients.

Ingestion writes what course.yaml declares (``declared`` hash); lecturers write the run-time hash
through the API. They are kept apart so a re-ingest never undoes a lecturer's switch and clearing
a switch falls back to course.yaml. Every worker reads the same hashes, so a switch applies to the
next turn everywhere.

A turn reads its course's modes once. When that read times out (Redis up but slow to answer, or
this worker's event loop too busy to read its reply in time) the turn takes the modes this worker
read for the course at most ``MODES_STALE_SECONDS`` earlier instead of failing; with none that
recent, or when Redis refuses the connection, the read fails as before. The modes choose how an
answer is taught (direct or guided), they grant no access, so a stale switch of at most a minute
is the cost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import redis
import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from app.teaching.modes import AnswerMode, CourseModes, ModeLayer, parse_mode, resolve_mode

log = logging.getLogger(__name__)

MODES_STALE_SECONDS = 60.0  # how old the modes a timed-out read falls back to may be
MODES_REMEMBERED = 1024  # courses whose last modes a worker keeps for that fallback
READ_TIMEOUTS = (TimeoutError, redis.TimeoutError)  # slow, not refused: see the module's doc

COURSE_FIELD = "course"
MATERIAL_FIELD = "material:"
SHOW_STUDENTS_FIELD = "show_student_ids"
RECIPIENTS_FIELD = "digest_recipients"
Email = Annotated[str, Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$", max_length=254)]


def declared_key(key_prefix: str, course_id: str) -> str:
    return f"{key_prefix}:teaching:declared:{course_id}"


def runtime_key(key_prefix: str, course_id: str) -> str:
    return f"{key_prefix}:teaching:runtime:{course_id}"


def save_declared_modes(
    client: redis.Redis,
    key_prefix: str,
    course_id: str,
    course_mode: AnswerMode | None,
    material_modes: Mapping[str, AnswerMode],
) -> None:
    """What course.yaml says, replaced whole (ingestion calls this; blocking client)."""
    key = declared_key(key_prefix, course_id)
    mapping = {f"{MATERIAL_FIELD}{m}": mode for m, mode in material_modes.items()}
    if course_mode is not None:
        mapping[COURSE_FIELD] = course_mode
    pipe = client.pipeline()
    pipe.delete(key)
    if mapping:
        pipe.hset(key, mapping=mapping)
    pipe.execute()


def _layer(raw: Mapping[Any, Any]) -> ModeLayer:
    course: AnswerMode | None = None
    materials: dict[str, AnswerMode] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        mode = parse_mode(value)
        if mode is None:
            continue
        if name == COURSE_FIELD:
            course = mode
        elif name.startswith(MATERIAL_FIELD):
            materials[name.removeprefix(MATERIAL_FIELD)] = mode
    return ModeLayer(course, materials)


class ModeSettings(BaseModel):
    declared: AnswerMode | None = Field(description="from course.yaml")
    override: AnswerMode | None = Field(description="a lecturer's run-time switch")
    effective: AnswerMode


class MaterialMode(ModeSettings):
    material_id: str


class TeachingSettings(BaseModel):
    course_id: str
    answer_mode: ModeSettings
    materials: list[MaterialMode] = Field(
        description="materials with a declared or switched mode of their own"
    )
    show_student_ids: bool = Field(description="insights and digests name students (opt-in)")
    digest_recipients: list[Email]


class TeachingSettingsUpdate(BaseModel):
    """Fields left out stay as they are; ``null`` clears a run-time mode (back to course.yaml)."""

    answer_mode: AnswerMode | None = None
    material_modes: dict[str, AnswerMode | None] = Field(
        default_factory=dict, description="material id → mode, or null to clear the switch"
    )
    show_student_ids: bool | None = None
    digest_recipients: list[Email] | None = Field(default=None, max_length=50)


class CourseSettingsStore:
    def __init__(
        self,
        client: aioredis.Redis,
        key_prefix: str,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._timeout = timeout
        self._clock = clock
        self._known: OrderedDict[str, tuple[float, CourseModes]] = OrderedDict()

    async def _hashes(self, course_id: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
        async with asyncio.timeout(self._timeout):
            pipe = self._client.pipeline(transaction=False)
            pipe.hgetall(declared_key(self._prefix, course_id))
            pipe.hgetall(runtime_key(self._prefix, course_id))
            declared, runtime = await pipe.execute()
        return declared, runtime

    async def modes(self, course_id: str | None) -> CourseModes:
        """The course's modes as they are now (no course: every answer is direct)."""
        if course_id is None:
            return CourseModes()
        try:
            declared, runtime = await self._hashes(course_id)
        except READ_TIMEOUTS:
            read_at, known = self._known.get(course_id, (float("-inf"), None))
            age = self._clock() - read_at
            if known is None or age > MODES_STALE_SECONDS:
                raise
            log.warning(
                "answer modes of %s read too slowly: using those of %.0f s ago", course_id, age
            )
            return known
        modes = CourseModes(_layer(declared), _layer(runtime))
        self._known[course_id] = (self._clock(), modes)
        self._known.move_to_end(course_id)
        if len(self._known) > MODES_REMEMBERED:
            self._known.popitem(last=False)
        return modes

    async def answer_mode(self, course_id: str | None, material_ids: list[str]) -> AnswerMode:
        """The mode of a turn of ``course_id`` drawing on ``material_ids`` (app.teaching.modes)."""
        return (await self.modes(course_id)).resolve(material_ids)

    async def get(self, course_id: str) -> TeachingSettings:
        declared_raw, runtime_raw = await self._hashes(course_id)
        declared, runtime = _layer(declared_raw), _layer(runtime_raw)
        materials = sorted(set(declared.materials) | set(runtime.materials))
        show = runtime_raw.get(SHOW_STUDENTS_FIELD.encode(), runtime_raw.get(SHOW_STUDENTS_FIELD))
        recipients = runtime_raw.get(RECIPIENTS_FIELD.encode(), runtime_raw.get(RECIPIENTS_FIELD))
        return TeachingSettings(
            course_id=course_id,
            answer_mode=ModeSettings(
                declared=declared.course,
                override=runtime.course,
                effective=resolve_mode(declared, runtime),
            ),
            materials=[
                MaterialMode(
                    material_id=m,
                    declared=declared.materials.get(m),
                    override=runtime.materials.get(m),
                    effective=resolve_mode(declared, runtime, [m]),
                )
                for m in materials
            ],
            show_student_ids=(show in (b"1", "1")),
            digest_recipients=json.loads(recipients) if recipients else [],
        )

    async def update(self, course_id: str, change: TeachingSettingsUpdate) -> TeachingSettings:
        key = runtime_key(self._prefix, course_id)
        sets: dict[str, str] = {}
        clears: list[str] = []
        fields = change.model_fields_set
        if "answer_mode" in fields:
            if change.answer_mode is None:
                clears.append(COURSE_FIELD)
            else:
                sets[COURSE_FIELD] = change.answer_mode
        for material, mode in change.material_modes.items():
            if mode is None:
                clears.append(f"{MATERIAL_FIELD}{material}")
            else:
                sets[f"{MATERIAL_FIELD}{material}"] = mode
        if change.show_student_ids is not None:
            sets[SHOW_STUDENTS_FIELD] = "1" if change.show_student_ids else "0"
        if change.digest_recipients is not None:
            sets[RECIPIENTS_FIELD] = json.dumps([str(r) for r in change.digest_recipients])
        async with asyncio.timeout(self._timeout):
            pipe = self._client.pipeline(transaction=True)
            if clears:
                pipe.hdel(key, *clears)
            if sets:
                pipe.hset(key, mapping=sets)
            await pipe.execute()
        return await self.get(course_id)

    async def courses_with_recipients(self, course_ids: list[str]) -> dict[str, list[str]]:
        """Digest recipients of each course that has any (for the weekly digest)."""
        out: dict[str, list[str]] = {}
        for course_id in course_ids:
            settings = await self.get(course_id)
            if settings.digest_recipients:
                out[course_id] = [str(r) for r in settings.digest_recipients]
        return out
