"""What a lecturer gets back from ``GET /courses/{course_id}/insights`` (and the digest shows)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Totals(BaseModel):
    questions: int
    students: int = Field(description="distinct students who asked")
    answered: int = Field(description="answers from the material, the cache or a curated answer")
    not_covered: int
    from_cache: int
    curated: int
    failed: int = Field(description="failed or cancelled turns")
    upvotes: int
    downvotes: int
    cost_usd: float
    median_latency_ms: float | None


class Topic(BaseModel):
    label: str = Field(description="the topic's most distinctive words")
    keywords: list[str]
    questions: int
    students: int
    share: float = Field(description="fraction of all questions in the window")
    examples: list[str] = Field(description="the most typical questions, distinct")


class ContentGap(BaseModel):
    question: str = Field(description="the most typical wording")
    count: int = Field(description="times asked (all wordings)")
    students: int
    examples: list[str]
    last_asked: datetime


class RatedAnswer(BaseModel):
    turn_id: str
    question: str
    answer: str
    comment: str | None
    response_source: str
    rated_at: datetime
    cache_entry: bool = Field(
        description="the answer came from or went into the semantic cache (a downvote takes "
        "that entry out of the cache; see the course's reviews)"
    )
    student: str | None = Field(description="only when the course shows student ids")


class PageCitations(BaseModel):
    material_id: str
    filename: str
    title: str | None
    page_label: str
    page_number: int
    citations: int = Field(description="answers that cited this page")


class StudentActivity(BaseModel):
    student: str
    questions: int
    not_covered: int


class CourseInsights(BaseModel):
    course_id: str
    start: datetime = Field(description="window start (inclusive, UTC)")
    end: datetime = Field(description="window end (exclusive, UTC)")
    generated_at: datetime
    totals: Totals
    topics: list[Topic]
    other_questions: int = Field(description="questions in topics too small to list")
    content_gaps: list[ContentGap]
    downvoted: list[RatedAnswer]
    top_pages: list[PageCitations]
    students: list[StudentActivity] | None = Field(
        description="per-student counts; null unless the course shows student ids"
    )
    truncated: bool = Field(description="the window held more turns than were analysed")
