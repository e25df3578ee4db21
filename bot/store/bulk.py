"""Inserting many rows at once where re-deliveries are normal: duplicates of a unique key are skipped, not errors."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Executable, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

from bot.store.types import UTCDateTime, json_text


def insert_new(session: Session, table: Table, rows: Sequence[dict[str, Any]], *returning: Column) -> list[tuple[Any, ...]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the `returning` columns of the rows that were new, as tuples.

    One statement for the batch (on SQLite, one for each _SQLITE_ROWS rows), built once for its shape and run without
    SQLAlchemy's per-row work, which cost more than the insert itself; every row has the same keys.
    """
    if not rows:
        return []
    columns = tuple(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        statement = _postgresql_insert(table, columns, returning)
        return [tuple(row) for row in session.execute(statement, {"rows": json_text(rows, default=_json_time)})]
    stored = _sqlite_stored(table, columns, returning, dialect)
    values = [row[column] if store is None else store(row[column]) for row in rows for column, store in stored]
    # Straight to the driver's cursor, in the session's transaction: SQLAlchemy's execution and rows cost 100 µs or
    # more a statement in the ingest path, against 30 µs for the cursor. Its errors are raised as SQLAlchemy's own,
    # which is what callers catch (a webhook answers 503 to them).
    cursor = session.connection().connection.cursor()
    new: list[tuple[Any, ...]] = []
    try:
        for start in range(0, len(rows), _SQLITE_ROWS):
            count = min(_SQLITE_ROWS, len(rows) - start)
            statement = _sqlite_insert(table, columns, returning, count)
            chunk = tuple(values[start * len(columns):(start + count) * len(columns)])
            cursor.execute(statement, chunk)
            new.extend(cursor.fetchall())
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, chunk, error, dialect.loaded_dbapi.Error) from error
    finally:
        cursor.close()
    return new


# The statements are built once per table and shape: building one costs about as much as running it for a
# small batch, and ingestion runs the same few on every delivery.

@lru_cache(maxsize=32)
def _postgresql_insert(table: Table, columns: tuple[str, ...], returning: tuple[Column, ...]) -> Executable:
    """The batch goes as one JSON document that json_populate_recordset spreads over the table's columns.

    A multi-row VALUES of a hundred alerts has 1,400 parameters, and psycopg parses a statement that long again on
    every execution (it caches only those under 4 KB and 50 parameters): that alone cost more than the insert. This
    statement is the same for every batch. JSON columns are stored as `json_text` writes them, as on SQLite, and times
    as the instants UTCDateTime binds.
    """
    preparer = postgresql.dialect().identifier_preparer
    name = preparer.format_table(table)
    names = ", ".join(preparer.quote(column) for column in columns)
    returned = ", ".join(preparer.quote(column.name) for column in returning)
    return text(
        f"INSERT INTO {name} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{name}, :rows) "
        f"ON CONFLICT DO NOTHING RETURNING {returned}"
    ).columns(*returning)


# SQLite takes at most 32,766 parameters in a statement.
_SQLITE_ROWS = 500


@lru_cache(maxsize=32)
def _sqlite_stored(table: Table, columns: tuple[str, ...], returning: tuple[Column, ...],
                   dialect: Dialect) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """The columns, each with what turns its values into what its type stores, or None when a value is stored as it
    is. The rows go to the driver as they are, and so do the returned values."""
    if any(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returning):
        raise ValueError("a bulk insert on SQLite returns only columns the driver reads as they are stored")
    return tuple((column, _sqlite_stored_as(table.c[column].type, dialect)) for column in columns)


def _sqlite_stored_as(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    # The JSON type's and SQLite DATETIME's own bind processors were most of the cost of an insert.
    if isinstance(kind, JSON):
        return json_text
    if isinstance(kind, UTCDateTime):
        return _sqlite_time
    return kind.dialect_impl(dialect).bind_processor(dialect)


@lru_cache(maxsize=64)
def _sqlite_insert(table: Table, columns: tuple[str, ...], returning: tuple[Column, ...], count: int) -> str:
    """A multi-row VALUES of `count` rows, in the driver's own parameter style; SQLite caches each one prepared."""
    preparer = sqlite.dialect().identifier_preparer
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return (f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.quote(column) for column in columns)}) "
            f"VALUES {', '.join([row] * count)} ON CONFLICT DO NOTHING "
            f"RETURNING {', '.join(preparer.quote(column.name) for column in returning)}")


_UTC_DATETIME = UTCDateTime()


def _json_time(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} has no JSON form for a bulk insert")
    return _UTC_DATETIME.process_bind_param(value, None).isoformat()  # type: ignore[union-attr]


# A batch's rows share their received_at, and an alert's timeline event its start: writing one costs fifteen lookups.
@lru_cache(maxsize=1024)
def _sqlite_time(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME writes for UTCDateTime's instant ("2026-11-25 08:04:05.123456"): stored
    times are compared as text, so it must be the same."""
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        value = _UTC_DATETIME.process_bind_param(value, None)  # type: ignore[assignment]
    return value.isoformat(" ", "microseconds")[:26]  # type: ignore[union-attr]
