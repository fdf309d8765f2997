"""Students, their chatrooms and every finished turn.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Written by hand. Sizes are literals, not imports, so later edits to the models cannot rewrite
history; tests/integration/test_db.py checks this against app/db/models.py on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "students",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("level", sa.String(32), nullable=True),
        sa.Column("preferred_language", sa.String(16), nullable=True),
        sa.Column("study_program", sa.String(128), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_table(
        "chatrooms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("chatroom_id", sa.String(128), nullable=False),
        sa.Column("course_id", sa.String(128), nullable=True),
        _timestamp("created_at"),
        sa.UniqueConstraint("user_id", "chatroom_id", name="uq_chatrooms_user_room"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["students.user_id"], name="fk_chatrooms_user", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("chatroom_pk", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("course_id", sa.String(128), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("personalized", sa.Boolean(), nullable=False),
        sa.Column("response_source", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        _timestamp("created_at"),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "status IN ('completed', 'cancelled', 'failed')", name="ck_turns_status"
        ),
        sa.ForeignKeyConstraint(
            ["chatroom_pk"], ["chatrooms.id"], name="fk_turns_chatroom", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["students.user_id"], name="fk_turns_user", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_turns_user_room_created", "turns", ["user_id", "chatroom_pk", "created_at"])
    op.create_index("ix_turns_created_at", "turns", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_turns_created_at", table_name="turns")
    op.drop_index("ix_turns_user_room_created", table_name="turns")
    op.drop_table("turns")
    op.drop_table("chatrooms")
    op.drop_table("students")
