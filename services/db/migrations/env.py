"""Alembic environment: runs on the connection handed in by services.db.migrate."""

from alembic import context

from projections.engine.tables import metadata
from projections.models import audit_tables, personal, signatures, tables  # noqa: F401  (register their tables on metadata)
from services.db import tables as service_tables  # noqa: F401  (the same)

connection = context.config.attributes["connection"]
schema = context.config.attributes["schema"]

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table_schema=schema,
    include_schemas=False,
    include_name=lambda name, type_, parent: not (type_ == "table" and name == "alembic_version"),
)
with context.begin_transaction():
    context.run_migrations()
