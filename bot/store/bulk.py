"""Inserting many rows at once where re-deliveries are normal: duplicates of a unique key are skipped, not errors."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Table, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot.store.types import json_text, utc_instant


def insert_new(session: Session, table: Table, rows: Sequence[dict[str, Any]],
               *returning: Column[Any]) -> list[tuple[Any, ...]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the `returning` columns of the rows that were new, as tuples.

    One statement for the batch, on SQLite and PostgreSQL alike; every row has the same keys. A refused row (a NULL,
    a foreign key) raises SQLAlchemy's IntegrityError.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        statement, parameters = _postgresql_insert(table, rows, returning)
        return [tuple(row) for row in session.execute(statement, parameters)]
    # SQLAlchemy sends the rows as one multi-row VALUES ("insertmanyvalues").
    statement = sqlite.insert(table).on_conflict_do_nothing().returning(*returning)
    return [tuple(row) for row in session.execute(statement, list(rows))]


def _postgresql_insert(table: Table, rows: Sequence[dict[str, Any]],
                       returning: tuple[Column[Any], ...]) -> tuple[Any, dict[str, str]]:
    """The batch as one JSON document that json_to_recordset spreads over the table's columns.

    A multi-row VALUES has a parameter for each value, and psycopg parses so long a statement again on every
    execution; on the ingest benchmark that cost more than the insert (bench/README.md, ingest). This statement has
    one parameter whatever the batch. JSON columns hold their part of the document, written by `json_text` as the
    engine writes JSON; times go as the instants UTCDateTime binds.
    """
    names = list(rows[0])
    records = func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON)).table_valued(
        *(column(name, table.c[name].type) for name in names)).render_derived(with_types=True)
    statement = (postgresql.insert(table).from_select(names, select(*records.c))
                 .on_conflict_do_nothing().returning(*returning))
    return statement, {"rows": json_text(rows, default=_instant)}


def _instant(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} has no JSON form for a bulk insert")
    return utc_instant(value).isoformat()
