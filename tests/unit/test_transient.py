"""What the projection retries in place (the servers cannot do the work now) and what it isolates as
a problem of the event: a full disk is never a reason to refuse an event."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from projections.engine.runner import is_transient
from projections.models.rows import Refused


class PgError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["53100", "53200", "53300", "57P01", "57P03", "58030", "08006", "40001",
                                      "40P01"])
def test_a_server_that_cannot_work_now_is_retried(sqlstate: str):
    assert is_transient(DBAPIError("INSERT INTO rejected ...", {}, PgError(sqlstate)))


@pytest.mark.parametrize("error", [
    IntegrityError("INSERT ...", {}, PgError("23505")),  # unique violation
    DBAPIError("INSERT ...", {}, PgError("22P02")),  # invalid text representation
    Refused("bad_reference", "data.plan_id", "no such plan"),
    ValueError("a bug in a projection"),
])
def test_a_problem_of_the_data_is_not(error: Exception):
    assert not is_transient(error)
