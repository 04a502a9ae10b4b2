import pytest

from tests.support import RUNNING, System, bare_nats_server, new_system


@pytest.fixture(scope="session", autouse=True)
def _stop_what_was_left_running():
    """A fixture that failed after starting its system (before its own teardown was set up) or a test
    that failed before stopping its own: their servers are stopped when the session ends."""
    yield
    while RUNNING:
        RUNNING[-1].stop()


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
