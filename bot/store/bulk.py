"""Inserting many rows at once where re-deliveries are normal: duplicates of a unique key are skipped, not errors."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_new(session: Session, table: Table, rows: Sequence[dict[str, Any]], *returning: Column[Any]) -> list[tuple[Any, ...]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the `returning` columns of the rows that were new, as tuples.

    SQLAlchemy sends the batch as one multi-row statement (its "insertmanyvalues") on SQLite and PostgreSQL alike;
    every row has the same keys. A refused row (a NULL, a foreign key) raises SQLAlchemy's IntegrityError.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing().returning(*returning)
    return [tuple(row) for row in session.execute(statement, list(rows))]
