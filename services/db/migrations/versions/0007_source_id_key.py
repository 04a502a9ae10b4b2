"""events: (source, id) is the idempotency key, not id alone; event_duplicates names the source

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # id first: a look-up by id alone (GET /api/events/{id}, the lookup's id = ANY(...)) uses the index too
    op.create_unique_constraint("events_id_source_key", "events", ["id", "source"])
    op.execute("ALTER TABLE events DROP CONSTRAINT IF EXISTS events_id_key")
    op.add_column("event_duplicates", sa.Column("source", sa.Text(), nullable=True))
    # a duplicate repeats its original's (source, id): the original's source is the duplicate's
    op.execute("UPDATE event_duplicates d SET source = e.source FROM events e WHERE e.seq = d.original_seq")
    op.execute("UPDATE event_duplicates SET source = '' WHERE source IS NULL")  # no original indexed: none known
    op.alter_column("event_duplicates", "source", nullable=False)


def downgrade() -> None:
    # fails, as it must, once two sources have used one id
    op.drop_column("event_duplicates", "source")
    op.create_unique_constraint("events_id_key", "events", ["id"])
    op.drop_constraint("events_id_source_key", "events", type_="unique")
