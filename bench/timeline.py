"""Timeline assembly at 5,000 and 50,000 events: loading the incident's events and assembling the view
(first signal, changes before it, inferences, symptom clusters with drain3, decisions).
Targets: ≤ 100 ms at 5,000 events; 10× the events in ≤ 12× the time."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import ManualClock  # noqa: E402
from bot.incidents.service import declare_incident  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.timeline.assembly import assemble  # noqa: E402
from bot.timeline.record import HUMAN, TRUSTED, UNTRUSTED, event_row, events_for, insert_events  # noqa: E402

ERRORS = [
    "timeout after {n}ms calling payments-gw 10.0.{a}.{b}:443",
    "duplicate idempotency key rejected for order {n}",
    "upstream returned 502 for /v1/charge (pod payment-api-{a})",
    "connection reset by peer while reading {n} bytes",
]


def rows(incident_id: str, count: int, start) -> list[dict]:
    out = []
    for n in range(count):
        at = start + timedelta(seconds=n)
        kind = n % 10
        if kind < 6:
            error = ERRORS[n % len(ERRORS)].format(n=1000 + n % 977, a=n % 13, b=n % 251)
            out.append(
                event_row(
                    incident_id,
                    at=at,
                    kind="alert" if kind < 5 else "alert_resolved",
                    trust=UNTRUSTED,
                    service="payment-api",
                    summary=f"HighErrorRate{n % 7} on payment-api firing",
                    details={
                        "name": f"HighErrorRate{n % 7}",
                        "fingerprint": f"{n % 400:016x}",
                        "labels": {"service": "payment-api", "severity": "critical"},
                        "annotations": {"summary": "5xx", "description": error},
                    },
                    evidence_ref=f"alert:{n:016x}",
                    dedupe_key=f"alert:{n}",
                )
            )
        elif kind < 8:
            out.append(
                event_row(
                    incident_id,
                    at=at,
                    kind="change",
                    trust=TRUSTED,
                    service="payment-api",
                    summary=f"Deploy payment-api v2.{n % 30}.0 to production",
                    evidence_ref=f"deploy:{n}",
                    dedupe_key=f"change:{n}",
                )
            )
        else:
            out.append(
                event_row(
                    incident_id,
                    at=at,
                    kind="note" if kind == 8 else "decision",
                    trust=HUMAN,
                    actor="U0COMMANDER",
                    summary=f"observation {n}",
                )
            )
    return out


def measure(count: int, scratch: Path) -> tuple[float, float, float]:
    """Medians of 7 runs, in ms: the whole (load + assembly), the load, the assembly."""
    db = Database(f"sqlite:///{scratch}/timeline-{count}.db")
    db.upgrade()
    clock = ManualClock()
    incident = declare_incident(db, clock, title="bench", declared_by="U0COMMANDER", services=["payment-api"])
    with db.session() as session:
        batch = rows(incident.id, count, clock.now() - timedelta(hours=20))
        for start in range(0, len(batch), 1000):
            insert_events(session, batch[start : start + 1000])
    runs, loads, assemblies = [], [], []
    for _ in range(7):
        started = time.perf_counter()
        with db.session() as session:
            events = events_for(session, incident.id)
        loaded = time.perf_counter()
        assemble(incident.id, incident.detected_at, ["payment-api"], events)
        done = time.perf_counter()
        runs.append((done - started) * 1000)
        loads.append((loaded - started) * 1000)
        assemblies.append((done - loaded) * 1000)
    db.engine.dispose()
    return statistics.median(runs), statistics.median(loads), statistics.median(assemblies)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        (small, small_load, small_assembly), (large, large_load, large_assembly) = (
            measure(5_000, Path(scratch)),
            measure(50_000, Path(scratch)),
        )
    print(
        f"timeline assembly (load from SQLite + assemble, median of 7): 5,000 events {small:.0f} ms "
        f"(load {small_load:.0f} ms, assembly {small_assembly:.0f} ms; target ≤ 100 ms) "
        f"{'PASS' if small <= 100 else '*** MISS ***'}; 50,000 events {large:.0f} ms (load {large_load:.0f} ms, "
        f"assembly {large_assembly:.0f} ms) = {large / small:.1f}× (target ≤ 12×) "
        f"{'PASS' if large / small <= 12 else '*** MISS ***'}"
    )


if __name__ == "__main__":
    main()
