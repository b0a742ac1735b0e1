"""Alembic environment: run programmatically by :func:`codeproof.store.migrate.upgrade`.

The caller passes an open SQLAlchemy connection in ``config.attributes["connection"]``;
no ``alembic.ini`` and no URL in files.
"""

from __future__ import annotations

from alembic import context

from codeproof.store.tables import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table="cp_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
