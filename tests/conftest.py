"""The test world in the domain's words: a Slack workspace (the sandbox, over real sockets) with Steward serving it."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import freezegun
import psycopg
import pytest

from bot.clock import ManualClock
from bot.sandbox.local import start_local
from bot.store.db import Database
from handlers.door import DOOR
from tests.support.paths import ROOT
from tests.support.workspace import Workspace

# Frozen time is the code's under test, not pytest's own: its durations report would read the frozen clock.
freezegun.configure(extend_ignore_list=["_pytest"])

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of examples/config that a test may edit."""
    target = tmp_path / "config"
    shutil.copytree(ROOT / "examples" / "config", target)
    return target


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'steward.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database per test, dropped afterwards."""
    if os.environ.get("STEWARD_SKIP_POSTGRES") == "1":
        pytest.skip("STEWARD_SKIP_POSTGRES=1 (never set in CI)")
    name = f"steward_{uuid.uuid4().hex[:12]}"
    for attempt in range(10):
        try:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.errors.ObjectInUse:
            # CREATE DATABASE copies template1 and refuses while another session is connected to it.
            time.sleep(0.2 * (attempt + 1))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The database of `database_url`, migrated to head."""
    database = Database(database_url)
    database.upgrade()
    yield database
    database.engine.dispose()


@pytest.fixture
def workspace(database_url: str, config_dir: Path, clock: ManualClock) -> Iterator[Workspace]:
    stack = start_local(DOOR, database_url, config_dir, clock)
    try:
        yield Workspace(stack)
    finally:
        stack.stop()
