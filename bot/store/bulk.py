"""Inserting many rows at once where re-deliveries are normal: duplicates of a unique key are skipped, not errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Table, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from bot.store.types import json_text, utc_instant


def insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *returning: Column[Any]
) -> list[tuple[Any, ...]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the `returning` columns of the rows that were new, as tuples.

    One statement for the batch (on SQLite, one for each _SQLITE_ROWS rows); every row has the same keys. A refused
    row (a NULL, a foreign key) raises SQLAlchemy's IntegrityError.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        statement, parameters = _postgresql_insert(table, rows, returning)
        return [tuple(row) for row in session.execute(statement, parameters)]
    return _sqlite_insert_new(session, table, rows, returning)


def _sqlite_insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], returning: tuple[Column[Any], ...]
) -> list[tuple[Any, ...]]:
    """A multi-row VALUES run on the driver's own cursor, in the session's transaction, values bound by the column
    types' own processors. SQLAlchemy's execution of the same statement made ingest miss its target on SQLite and
    slowed the acks its flusher shares a process with (bench/README.md, ingest and ack_latency)."""
    dialect = session.get_bind().dialect
    columns = tuple(rows[0])
    processors = _sqlite_processors(table, columns, returning, dialect)
    values = [
        value if process is None else process(value)
        for row in rows
        for value, process in zip([row[c] for c in columns], processors, strict=True)
    ]
    cursor = session.connection().connection.cursor()
    new: list[tuple[Any, ...]] = []
    statement, chunk = "", ()
    try:
        for start in range(0, len(rows), _SQLITE_ROWS):
            count = min(_SQLITE_ROWS, len(rows) - start)
            statement = _sqlite_statement(table, columns, returning, count)
            chunk = tuple(values[start * len(columns) : (start + count) * len(columns)])
            cursor.execute(statement, chunk)
            new.extend(cursor.fetchall())
    except dialect.loaded_dbapi.Error as error:
        # Raised as SQLAlchemy's own (IntegrityError for a refused row), which callers catch.
        raise DBAPIError.instance(statement, chunk, error, dialect.loaded_dbapi.Error) from error
    finally:
        cursor.close()
    return new


# SQLite takes at most 32,766 parameters in a statement.
_SQLITE_ROWS = 500


@lru_cache(maxsize=32)
def _sqlite_processors(
    table: Table, columns: tuple[str, ...], returning: tuple[Column[Any], ...], dialect: Dialect
) -> tuple[Callable[[Any], Any] | None, ...]:
    if any(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returning):
        raise ValueError("a bulk insert on SQLite returns only columns the driver reads as they are stored")
    return tuple(table.c[column].type.dialect_impl(dialect).bind_processor(dialect) for column in columns)


@lru_cache(maxsize=64)
def _sqlite_statement(table: Table, columns: tuple[str, ...], returning: tuple[Column[Any], ...], count: int) -> str:
    """A multi-row VALUES of `count` rows in the driver's parameter style; SQLite caches each one prepared."""
    preparer = sqlite.dialect().identifier_preparer
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return (
        f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.quote(column) for column in columns)}) "
        f"VALUES {', '.join([row] * count)} ON CONFLICT DO NOTHING "
        f"RETURNING {', '.join(preparer.quote(column.name) for column in returning)}"
    )


def _postgresql_insert(
    table: Table, rows: Sequence[dict[str, Any]], returning: tuple[Column[Any], ...]
) -> tuple[Any, dict[str, str]]:
    """The batch as one JSON document that json_to_recordset spreads over the table's columns.

    A multi-row VALUES has a parameter for each value, and psycopg parses so long a statement again on every
    execution; on the ingest benchmark that cost more than the insert (bench/README.md, ingest). This statement has
    one parameter whatever the batch. JSON columns hold their part of the document, written by `json_text` as the
    engine writes JSON; times go as the instants UTCDateTime binds.
    """
    return _postgresql_statement(table, tuple(rows[0]), returning), {"rows": json_text(rows, default=_instant)}


@lru_cache(maxsize=32)
def _postgresql_statement(table: Table, names: tuple[str, ...], returning: tuple[Column[Any], ...]) -> Any:
    """Built once per table and shape: building the construct cost about as much as running it (bench/README.md)."""
    records = (
        func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in names))
        .render_derived(with_types=True)
    )
    return (
        postgresql.insert(table)
        .from_select(list(names), select(*records.c))
        .on_conflict_do_nothing()
        .returning(*returning)
    )


def _instant(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} has no JSON form for a bulk insert")
    return utc_instant(value).isoformat()
