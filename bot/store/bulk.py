"""Inserting many rows at once where re-deliveries are normal: duplicates of a unique key are skipped, not errors."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Executable, Row, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot.store.types import UTCDateTime


def insert_new(session: Session, table: Table, rows: Sequence[dict[str, Any]], *returning: Column) -> list[Row[Any]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the `returning` columns of the rows that were new.

    One statement for the batch, on SQLite and PostgreSQL alike; every row has the same keys.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        statement = _postgresql_insert(table, tuple(rows[0]), returning)
        return list(session.execute(statement, {"rows": json.dumps(rows, default=_json_time)}))
    # SQLAlchemy's insertmanyvalues: one multi-row VALUES.
    return list(session.execute(_sqlite_insert(table, returning), list(rows)))


# The statements are built once per table and shape: building one costs about as much as running it for a
# small batch, and ingestion runs the same few on every delivery.

@lru_cache(maxsize=32)
def _sqlite_insert(table: Table, returning: tuple[Column, ...]) -> Executable:
    return sqlite.insert(table).on_conflict_do_nothing().returning(*returning)


@lru_cache(maxsize=32)
def _postgresql_insert(table: Table, columns: tuple[str, ...], returning: tuple[Column, ...]) -> Executable:
    """The batch goes as one JSON document that json_populate_recordset spreads over the table's columns.

    A multi-row VALUES of a hundred alerts has 1,400 parameters, and psycopg parses a statement that long again on
    every execution (it caches only those under 4 KB and 50 parameters): that alone cost more than the insert. This
    statement is the same for every batch. JSON columns are stored as `json.dumps` writes them, as SQLAlchemy's JSON
    type does, and times as the instants UTCDateTime binds.
    """
    preparer = postgresql.dialect().identifier_preparer
    name = preparer.format_table(table)
    names = ", ".join(preparer.quote(column) for column in columns)
    returned = ", ".join(preparer.quote(column.name) for column in returning)
    return text(
        f"INSERT INTO {name} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{name}, :rows) "
        f"ON CONFLICT DO NOTHING RETURNING {returned}"
    ).columns(*returning)


_UTC_DATETIME = UTCDateTime()


def _json_time(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} has no JSON form for a bulk insert")
    return _UTC_DATETIME.process_bind_param(value, None).isoformat()  # type: ignore[union-attr]
