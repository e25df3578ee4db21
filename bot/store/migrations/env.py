"""Alembic environment: migrations run against the URL Steward was given, with the SQLModel metadata."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import bot.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from bot.store.db import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
if url is None:
    raise RuntimeError("no sqlalchemy.url: migrations run through bot.store.db.Database.upgrade, which sets it")
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
