"""Bulk inserts: duplicates skipped, the new rows returned, and values stored as the column types store them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from bot.store.bulk import insert_new
from bot.store.db import Database
from bot.store.models import Signal
from bot.store.types import json_text

SIGNAL = Signal.__table__
WHEN = datetime(2026, 11, 25, 10, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))


def signal(key: str, **fields: object) -> dict[str, object]:
    return {
        "source": "alertmanager",
        "fingerprint": f"fp-{key}",
        "name": "HighErrorRate",
        "status": "firing",
        "labels": {"service": "payment-api", "é": 'ü 漢 "q" \\ \n 🔥'},
        "annotations": {},
        "starts_at": WHEN,
        "ends_at": None,
        "url": None,
        "service": "payment-api",
        "environment": None,
        "dedupe_key": key,
        "received_at": WHEN,
        **fields,
    }


def test_only_new_rows_are_stored_and_returned(db: Database) -> None:
    with db.session() as session:
        first = insert_new(session, SIGNAL, [signal("a"), signal("b"), signal("a")], SIGNAL.c.dedupe_key)
    with db.session() as session:
        again = insert_new(session, SIGNAL, [signal("b"), signal("c")], SIGNAL.c.dedupe_key)
    assert sorted(key for (key,) in first) == ["a", "b"]
    assert [key for (key,) in again] == ["c"]


def test_a_refused_insert_raises_sqlalchemys_error_and_stores_nothing(db: Database) -> None:
    # Callers answer 503 to SQLAlchemy's errors.
    with pytest.raises(IntegrityError), db.session() as session:
        insert_new(session, SIGNAL, [signal("a"), signal("b", name=None)], SIGNAL.c.id)
    with db.engine.connect() as connection:
        assert connection.execute(select(SIGNAL.c.id)).all() == []


def test_values_read_back_as_they_went_in(db: Database) -> None:
    row = signal(
        "a",
        annotations={"nested": "no", "runbook": "https://runbooks.example.com/x?y=1&z=2"},
        url="http://prometheus:9090/graph",
        ends_at=WHEN + timedelta(minutes=5),
    )
    with db.session() as session:
        insert_new(session, SIGNAL, [row], SIGNAL.c.id)
    with db.session() as session:
        stored = session.execute(select(SIGNAL).where(SIGNAL.c.dedupe_key == "a")).one()._mapping
    assert {name: stored[name] for name in row} == row
    assert stored["starts_at"].utcoffset() == timedelta(0)


def test_json_columns_hold_the_same_text_on_both_databases(db: Database) -> None:
    row = signal("a")
    with db.session() as session:
        insert_new(session, SIGNAL, [row], SIGNAL.c.id)
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT CAST(labels AS TEXT) FROM signal")).scalar_one()
    assert stored == json_text(row["labels"])
    assert json.loads(stored) == row["labels"]


def test_times_hold_the_text_the_column_type_writes(db: Database) -> None:
    # Stored times are compared with times SQLAlchemy binds; on SQLite they compare as text.
    with db.session() as session:
        insert_new(session, SIGNAL, [signal("bulk")], SIGNAL.c.id)
        session.execute(insert(SIGNAL), [signal("core")])
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT CAST(starts_at AS TEXT) FROM signal ORDER BY dedupe_key")).scalars()
        assert len(set(stored)) == 1
        assert connection.execute(select(SIGNAL.c.dedupe_key).where(SIGNAL.c.starts_at == WHEN)).scalars().all() == [
            "bulk",
            "core",
        ]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ({"é": "ü 🔥"}, '{"é":"ü 🔥"}'),
        ({"a": "\ud800"}, '{"a":"\\ud800"}'),  # orjson refuses a lone surrogate; json writes it escaped
        (2**70, str(2**70)),
        ({1: "one"}, '{"1":"one"}'),
    ],
)
def test_json_text_writes_whatever_json_writes(value: object, written: str) -> None:
    assert json_text(value) == written
    assert json.loads(written) == json.loads(json.dumps(value))


def test_json_text_refuses_times_as_json_does() -> None:
    with pytest.raises(TypeError):
        json_text({"at": WHEN})
    assert json_text({"at": WHEN}, default=str) == json.dumps({"at": str(WHEN)}, separators=(",", ":"))
