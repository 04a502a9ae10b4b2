"""duties: the request a report answers, and the years a recurring task was completed for

`reports.request_id` holds the `report_requested` aggregate a report answers (its `request_id`),
so that an ad hoc report counts for its request and never for the periodic duty.
`tasks.completed_periods` holds, for a recurring task, the day it was completed for each year
(`task_completed`'s period, else the year of `completed_on`), so that each year's instance of an
annual task is judged on its own.

Both are filled from the events already stored (those the projections took, not those refused),
as the projections would have written them: nothing needs replaying.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TAKEN = """NOT EXISTS (SELECT 1 FROM rejected j
                      WHERE j.key = 'events:' || e.seq OR j.key LIKE 'events:' || e.seq || ':%')"""
"""An event no projection refused."""

REQUESTS = f"""
UPDATE reports r SET request_id = last.request_id
FROM (SELECT DISTINCT ON (e.province, e.subject) e.province, e.subject,
             e.envelope -> 'data' ->> 'request_id' AS request_id
      FROM events e WHERE e.name = 'report_submitted' AND {TAKEN}
      ORDER BY e.province, e.subject, e.seq DESC) last
WHERE last.province = r.province AND last.subject = 'report/' || r.report_id
"""

COMPLETIONS = f"""
UPDATE tasks t SET completed_periods = done.periods
FROM (SELECT first.province, first.task_id, jsonb_object_agg(first.year, first.day) AS periods
      FROM (SELECT DISTINCT ON (c.province, c.task_id, c.year) c.province, c.task_id, c.year, c.day
            FROM (SELECT e.seq, e.province, substr(e.subject, 6) AS task_id,
                         COALESCE(left(e.envelope -> 'data' ->> 'period', 4),
                                  left(e.envelope -> 'data' ->> 'completed_on', 4)) AS year,
                         e.envelope -> 'data' ->> 'completed_on' AS day
                  FROM events e WHERE e.name = 'task_completed' AND {TAKEN}) c
            ORDER BY c.province, c.task_id, c.year, c.seq) first
      GROUP BY first.province, first.task_id) done
WHERE done.province = t.province AND done.task_id = t.task_id AND t.recurrence IS DISTINCT FROM 'once'
"""


def upgrade() -> None:
    op.add_column("reports", sa.Column("request_id", sa.Text(), nullable=True,
                                       comment="the report_requested aggregate this report answers"))
    op.add_column("tasks", sa.Column("completed_periods", JSONB(), nullable=True,
                                     comment="a recurring task: year -> the day it was completed for that year"))
    op.execute(REQUESTS)
    op.execute(COMPLETIONS)


def downgrade() -> None:
    op.drop_column("tasks", "completed_periods")
    op.drop_column("reports", "request_id")
