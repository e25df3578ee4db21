"""The Alembic migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.store.models  # noqa: F401
from bot.store.db import Database


def test_migrations_match_the_models(database_url):
    db = Database(database_url)
    db.upgrade()
    db.upgrade()  # a second upgrade is a no-op
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    db.engine.dispose()
    assert diff == []
