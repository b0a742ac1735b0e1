"""sealed blobs carry their data-key subject (patient pseudonym or encounter id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``subject`` to encounters and CDI queries ('' = the encounter id, as before)."""
    with op.batch_alter_table("cp_encounters") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("cp_cdi_queries") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=False,
                                   server_default=""))


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("cp_cdi_queries") as batch:
        batch.drop_column("subject")
    with op.batch_alter_table("cp_encounters") as batch:
        batch.drop_column("subject")
