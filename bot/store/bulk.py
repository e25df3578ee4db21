"""Inserting many rows at once where re-deliveries are normal: duplicates of a unique key are skipped, not errors."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_new(session: Session, table: Table, rows: Sequence[dict[str, Any]], *returning: Column) -> list[Row[Any]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the `returning` columns of the rows that were new.

    One statement for the batch (SQLAlchemy's insertmanyvalues), on SQLite and PostgreSQL alike.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing().returning(*returning)
    return list(session.execute(statement, list(rows)))
