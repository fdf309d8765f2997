"""What one question may be answered from: the course scope and the chunk-type rules, built once.

Both retrieval legs (dense through the LlamaIndex vector store, lexical through RediSearch) read
the same :class:`~llama_index.core.vector_stores.types.MetadataFilters` from :func:`scope_filters`,
so a rule added here (a material the student has open, a language) holds for every leg, and a
student of one course can never be served another course's chunks by one leg that forgot it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from redisvl.query.filter import FilterExpression, Num, Tag

from app.core.schema import ChunkField

# Tables of contents and book indexes name terms, they never explain them: never cited.
NOT_ANSWERS = ("toc", "index")
NUMERIC_FIELDS = frozenset({ChunkField.PAGE.value, ChunkField.POSITION.value})


class AnswerModes(Protocol):
    """A course's answer modes for one turn (``app.teaching.modes`` decides them)."""

    def resolve(self, material_ids: Iterable[str]) -> str:
        """``direct`` or ``guided`` for an answer drawing on these materials."""
        ...


def course_set(courses: str | Iterable[str] | None) -> frozenset[str] | None:
    """The courses of a scope as a set; ``None`` (every course) stays ``None``.

    A bare string is one course (never its letters); an empty set is refused, because a tag
    filter over no values matches every chunk.
    """
    if courses is None:
        return None
    found = frozenset({courses}) if isinstance(courses, str) else frozenset(courses)
    if not found:
        raise ValueError("a course scope needs at least one course (None means every course)")
    return found


@dataclass(frozen=True, init=False)
class CourseScope:
    """The courses a question may be answered from: ``course_ids``, or ``None`` for every course
    (a ``"*"`` token, or AUTH_MODE=none without a course on the socket).

    ``CourseScope("c1")`` is one course, ``CourseScope(frozenset({"c1", "c2"}))`` a student's
    several courses (a token that names them, asked without a ``course_id``). The page context
    (``material_id`` / ``page``: the PDF page the student has open, already checked to be of the
    scope's one course) steers retrieval towards that material and page but never narrows or
    widens the filters: :func:`scope_filters` reads the courses only. ``modes`` says how the
    course wants its answers written (``None``: direct). ``versions`` holds the content versions
    of the courses read when the question was asked (:meth:`at`), so retrieval reads none again;
    a course missing from it is read when needed.
    """

    course_ids: frozenset[str] | None
    material_id: str | None = None
    page: int | None = None
    modes: AnswerModes | None = field(default=None, compare=False)
    versions: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __init__(
        self,
        courses: str | Iterable[str] | None,
        material_id: str | None = None,
        page: int | None = None,
        modes: AnswerModes | None = None,
        versions: Mapping[str, str] | None = None,
    ) -> None:
        object.__setattr__(self, "course_ids", course_set(courses))
        object.__setattr__(self, "material_id", material_id)
        object.__setattr__(self, "page", page)
        object.__setattr__(self, "modes", modes)
        object.__setattr__(self, "versions", dict(versions or {}))

    def at(self, versions: Mapping[str, str]) -> CourseScope:
        """This scope with the content versions of its courses as read for the question."""
        return CourseScope(self.course_ids, self.material_id, self.page, self.modes, versions)

    @property
    def course_id(self) -> str | None:
        """The scope's one course; ``None`` for several courses *or* every course.

        For per-course settings (languages, answer modes) only: ``None`` here never means "every
        course" — filters come from :func:`scope_filters`, which reads ``course_ids``.
        """
        if self.course_ids is None or len(self.course_ids) != 1:
            return None
        return next(iter(self.course_ids))

    def answer_mode(self, material_ids: Iterable[str] = ()) -> str:
        """The mode of an answer drawing on ``material_ids``; the open material counts too."""
        if self.modes is None:
            return "direct"
        opened = [self.material_id] if self.material_id else []
        return self.modes.resolve([*opened, *material_ids])


def course_filter(course_ids: frozenset[str]) -> MetadataFilter:
    """Chunks of these courses: equality for one, a tag OR (``@course_id:{a|b}``) for several.

    ``RedisVectorStore`` renders ``FilterOperator.IN`` on a tag field as ``Tag == [values]``.
    """
    ordered = sorted(course_ids)
    if len(ordered) == 1:
        return MetadataFilter(key=ChunkField.COURSE_ID.value, value=ordered[0])
    return MetadataFilter(key=ChunkField.COURSE_ID.value, value=ordered, operator=FilterOperator.IN)


def scope_filters(scope: CourseScope) -> MetadataFilters:
    """The metadata conditions every retrieval leg applies (AND)."""
    conditions = [
        MetadataFilter(key=ChunkField.CHUNK_TYPE.value, value=kind, operator=FilterOperator.NE)
        for kind in NOT_ANSWERS
    ]
    if scope.course_ids is not None:
        conditions.append(course_filter(scope.course_ids))
    return MetadataFilters(filters=conditions)


def redis_filter(filters: MetadataFilters) -> FilterExpression:
    """The same conditions as a RedisVL filter, for the legs that query RediSearch directly.

    Mirrors what ``RedisVectorStore`` does with the filters of the dense leg; a unit test checks
    both produce the same query text. Unsupported operators fail loudly rather than widening the
    scope silently.
    """
    expressions: list[FilterExpression] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            expressions.append(redis_filter(item))
            continue
        expressions.append(_condition(item))
    if not expressions:
        return FilterExpression("*")
    combined = expressions[0]
    for expression in expressions[1:]:
        if filters.condition == FilterCondition.OR:
            combined = combined | expression
        else:
            combined = combined & expression
    return combined


def _condition(item: MetadataFilter) -> FilterExpression:
    if item.key in NUMERIC_FIELDS:
        numeric = Num(item.key)
        if item.operator == FilterOperator.EQ:
            return numeric == item.value
        if item.operator == FilterOperator.NE:
            return numeric != item.value
        raise ValueError(f"unsupported numeric filter {item.operator} on {item.key}")
    tag = Tag(item.key)
    if item.operator == FilterOperator.IN and (not isinstance(item.value, list) or not item.value):
        raise ValueError(f"an IN filter on {item.key} needs a non-empty list")
    if item.operator in (FilterOperator.EQ, FilterOperator.IN):
        return tag == item.value
    if item.operator == FilterOperator.NE:
        return tag != item.value
    raise ValueError(f"unsupported tag filter {item.operator} on {item.key}")
