"""Fixtures: every storage-touching test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockwire.config import Settings
from stockwire.storage import migrate
from stockwire.storage.database import Database
from tests.support import LiveServer, Shop, database_url, postgres_available

os.environ.setdefault("STOCKWIRE_ALLOW_PRIVATE_TARGETS", "1")

_PG = postgres_available()
_REQUIRE_PG = os.environ.get("STOCKWIRE_REQUIRE_POSTGRES") == "1"


def pytest_report_header() -> str:
    if _PG:
        return "postgresql: available, PostgreSQL tests run"
    return ("postgresql: NOT available, PostgreSQL tests are skipped; start PostgreSQL or set "
            "STOCKWIRE_TEST_POSTGRES_URL=postgresql://user@host:5432/db to run them")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _REQUIRE_PG and not _PG:
        raise pytest.UsageError("STOCKWIRE_REQUIRE_POSTGRES=1 but PostgreSQL does not answer")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not _PG:
        pytest.skip("PostgreSQL not available (set STOCKWIRE_TEST_POSTGRES_URL)")
    return str(request.param)


@pytest.fixture
def db_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    with database_url(db_kind, tmp_path) as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, pool_size=4)
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, allow_private_targets=True)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
def shop(server: LiveServer) -> Iterator[Shop]:
    s = Shop(server)
    yield s
    s.close()
