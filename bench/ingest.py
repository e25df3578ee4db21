"""Ingest 10,000 alerts in Alertmanager batches of 100 — parsing, redaction, dedupe and attachment included —
against a raw SQLAlchemy Core executemany of the same signal rows, on SQLite and PostgreSQL.

Two of the ten services have an open incident, so a fifth of the alerts also land on a timeline.
Target: Steward's alerts/s ≥ 0.5 × the raw insert's.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import ManualClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.incidents import attach_channel, declare_incident  # noqa: E402
from bot.ingest import Ingestor  # noqa: E402
from bot.redact import Redactor  # noqa: E402
from bot.services import ServiceCatalog  # noqa: E402
from bot.sources import alertmanager  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import Signal  # noqa: E402
from bot.webhooks import store_alerts  # noqa: E402

ALERTS, BATCH = 10_000, 100
SERVICES = [f"svc-{n}" for n in range(10)]
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def batches(clock: ManualClock) -> list[bytes]:
    start = clock.now() - timedelta(minutes=5)
    bodies = []
    for b in range(ALERTS // BATCH):
        alerts = []
        for n in range(BATCH):
            i = b * BATCH + n
            service = SERVICES[i % len(SERVICES)]
            description = f"upstream payments-gw returned 502 for /v1/charge after {1000 + i % 900}ms (pod {i % 37})"
            if i % 10 == 0:
                description += " password=hunter2hunter2"
            alerts.append({
                "status": "firing",
                "labels": {"alertname": f"HighErrorRate{i % 7}", "service": service, "instance": f"pod-{i}:8080",
                           "severity": "critical", "namespace": "prod"},
                "annotations": {"summary": f"High 5xx error rate on {service}", "description": description},
                "startsAt": (start + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up&g0.tab=1",
                "fingerprint": f"{i:016x}",
            })
        bodies.append(json.dumps({"receiver": "steward", "status": "firing", "alerts": alerts, "groupLabels": {},
                                  "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
                                  "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0}).encode())
    return bodies


def config_dir(scratch: Path) -> Path:
    directory = scratch / "config"
    directory.mkdir()
    (directory / "steward.yml").write_text("internal_host_patterns: ['\\\\.corp\\\\.internal$']\n")
    (directory / "services.yml").write_text("services:\n" + "".join(f"  {s}: {{}}\n" for s in SERVICES))
    return directory


def run(url: str, scratch: Path) -> tuple[float, float]:
    clock = ManualClock()
    bodies = batches(clock)
    config = load_config(config_dir(scratch))
    steward_db, raw_db = Database(url + "_steward" if url.startswith("postgres") else url), None
    steward_db.upgrade()
    for service in SERVICES[:2]:
        incident = declare_incident(steward_db, clock, title=f"{service} errors", declared_by="U1", services=[service])
        attach_channel(steward_db, incident.id, f"C{service}", f"inc-{service}")
    ingestor = Ingestor(ServiceCatalog(config), Redactor(config.steward.internal_host_patterns), clock, timedelta(minutes=120))
    started = time.perf_counter()
    for body in bodies:
        store_alerts(steward_db, ingestor, body)
    steward_rate = ALERTS / (time.perf_counter() - started)

    # The floor: the same signal rows, already built, one executemany per batch.
    rows = [row for body in bodies for row in ingestor.signal_rows(alertmanager.parse(body).signals, clock.now())]
    raw_db = Database(url + "_raw" if url.startswith("postgres") else url.replace(".db", "-raw.db"))
    raw_db.upgrade()
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        with raw_db.engine.begin() as connection:
            connection.execute(insert(Signal.__table__), rows[start:start + BATCH])
    raw_rate = ALERTS / (time.perf_counter() - started)
    steward_db.engine.dispose()
    raw_db.engine.dispose()
    return steward_rate, raw_rate


def postgres_databases() -> tuple[str, list[str]]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        for suffix in ("_steward", "_raw"):
            admin.execute(f'CREATE DATABASE "{name}{suffix}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", [f"{name}_steward", f"{name}_raw"]


def main() -> None:
    print(f"ingest: {ALERTS} alerts in batches of {BATCH} (parse + redaction + dedupe + attachment) vs raw Core executemany")
    with tempfile.TemporaryDirectory() as scratch:
        results = {"sqlite": run(f"sqlite:///{scratch}/bench.db", Path(scratch))}
        url, names = postgres_databases()
        try:
            pg_scratch = Path(scratch) / "pg"
            pg_scratch.mkdir()
            results["postgresql"] = run(url, pg_scratch)
        finally:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                for name in names:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for backend, (steward, raw) in results.items():
        ratio = steward / raw
        verdict = "PASS" if ratio >= 0.5 else "MISS"
        print(f"  {backend:<10} steward {steward:8.0f} alerts/s   raw {raw:8.0f} rows/s   ratio {ratio:.2f} (target ≥ 0.50) {verdict}")


if __name__ == "__main__":
    main()
