"""The lecturer dashboard: time to each turn's first streamed chunk, and an index for its per-course
date-range queries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

``first_chunk_ms`` is nullable: turns recorded before this column, and turns that never streamed a
chunk, have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("first_chunk_ms", sa.Float(), nullable=True))
    op.create_index("ix_turns_course_created", "turns", ["course_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_turns_course_created", table_name="turns")
    with op.batch_alter_table("turns") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("first_chunk_ms")
