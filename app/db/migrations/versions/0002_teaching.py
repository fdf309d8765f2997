"""The teaching loop: answer feedback, lecturers' curated answers, and each turn's cache entry.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-30

Written by hand, sizes as literals (see 0001). ``turns.cache_key`` names the semantic-cache entry
an answer came from or went into, so a downvote can take exactly that entry out of the cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("cache_key", sa.String(256), nullable=True))
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("turn_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("course_id", sa.String(128), nullable=True),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("cache_key", sa.String(256), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("turn_id", "user_id", name="uq_feedback_turn_user"),
        sa.CheckConstraint("rating IN ('up', 'down')", name="ck_feedback_rating"),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name="fk_feedback_turn", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_feedback_course_created", "feedback", ["course_id", "created_at"])
    op.create_table(
        "curated_answers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("course_id", sa.String(128), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("question_key", sa.String(64), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("material_hashes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("vector", sa.JSON(), nullable=True),
        sa.Column("vector_model", sa.String(128), nullable=True),
        sa.Column("source_turn_id", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("course_id", "question_key", name="uq_curated_course_question"),
        sa.CheckConstraint("status IN ('active', 'needs_review')", name="ck_curated_status"),
    )


def downgrade() -> None:
    op.drop_table("curated_answers")
    op.drop_index("ix_feedback_course_created", table_name="feedback")
    op.drop_table("feedback")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("cache_key")
