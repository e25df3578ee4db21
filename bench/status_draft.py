"""Draft a status update for an incident with 5,000 timeline events: the `/incident status` path after the events
are read (assembly, guards, fact selection, redaction), and for reference with the read from SQLite included.

The mix is what a long incident accumulates: alerts firing and resolving across 300 fingerprints, deploys and
config changes (some before the first alert), people's notes (some speculative, some naming people) and decisions.
Target: the median draft ≤ 50 ms.
"""

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
from bot.incidents.service import declare_incident, view_of  # noqa: E402
from bot.redact.redactor import Redactor  # noqa: E402
from bot.status.draft import draft_status_update  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import Incident  # noqa: E402
from bot.timeline.record import HUMAN, UNTRUSTED, event_row, events_for, insert_events  # noqa: E402

EVENTS, RUNS, TARGET_MS = 5_000, 9, 50.0
NOTES = [
    "error rate {n}% on /v1/charge",
    "probably the connection pool again",
    "customers in EU see 502 at checkout",
    "<@U0ENGINEER|bob>'s deploy broke it",
    "p99 latency {n}00 ms on payments-gw",
    "should we roll back to v2.17.3?",
]


def timeline_rows(incident_id: str, clock: ManualClock) -> list[dict]:
    start = clock.now() - timedelta(minutes=30)
    rows = []
    for i in range(EVENTS):
        at = start + timedelta(seconds=i)
        m = i % 20
        if m < 13:
            fp = f"{i % 300:016x}"
            resolved = m >= 11
            rows.append(
                event_row(
                    incident_id,
                    at=at,
                    kind="alert_resolved" if resolved else "alert",
                    source="alertmanager",
                    trust=UNTRUSTED,
                    service="payment-api",
                    summary=f"HighErrorRate{i % 7} on payment-api {'resolved' if resolved else 'firing'}",
                    details={
                        "fingerprint": fp,
                        "name": f"HighErrorRate{i % 7}",
                        "status": "resolved" if resolved else "firing",
                        "labels": {"service": "payment-api", "instance": f"pod-{i % 40}"},
                        "annotations": {
                            "summary": "High 5xx",
                            "description": f"upstream returned 502 after {1000 + i % 900}ms",
                        },
                    },
                    evidence_ref=f"alert:{fp}",
                    dedupe_key=f"a{i}",
                )
            )
        elif m < 16:
            rows.append(
                event_row(
                    incident_id,
                    at=at - timedelta(minutes=45 if i < 100 else 0),
                    kind="change",
                    source="github",
                    service="payment-api",
                    summary=f"Deploy payment-api v2.{i} to production",
                    details={"actor": "octocat", "description": f"Merge pull request #{i} from acme/feature-{i}"},
                    evidence_ref=f"https://github.com/acme/payment-api/deployments/{i}",
                    dedupe_key=f"c{i}",
                )
            )
        elif m < 19:
            rows.append(
                event_row(
                    incident_id,
                    at=at,
                    kind="note",
                    actor="U0ENGINEER",
                    trust=HUMAN,
                    summary=NOTES[i % len(NOTES)].format(n=i % 50),
                )
            )
        else:
            rows.append(
                event_row(
                    incident_id,
                    at=at,
                    kind="decision",
                    actor="U0COMMANDER",
                    trust=HUMAN,
                    summary=f"turn off checkout.new-routing ({i})",
                )
            )
    return rows


def median_ms(run) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    clock = ManualClock()
    redactor = Redactor([r"\.corp\.internal$"])
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{scratch}/bench.db")
        db.upgrade()
        incident = declare_incident(
            db, clock, title="Checkout errors", declared_by="U0COMMANDER", severity="SEV2", services=["payment-api"]
        )
        with db.session() as session:
            insert_events(session, timeline_rows(incident.id, clock))
        with db.session() as session:
            view = view_of(session, session.get(Incident, incident.id))
            events = events_for(session, incident.id)

        def draft(events=events):
            return draft_status_update(view, events, now=clock.now(), cadence_minutes=30, redact=redactor.redact)

        def read_and_draft():
            with db.session() as session:
                draft(events_for(session, incident.id))

        result = draft()
        draft_ms, total_ms = median_ms(draft), median_ms(read_and_draft)
        db.engine.dispose()
    verdict = "PASS" if draft_ms <= TARGET_MS else "*** MISS ***"
    print(
        f"status draft: {len(events)} events → {len(result.facts)} facts (+{result.facts_omitted} in the timeline), "
        f"{len(result.inferences)} inferences, {len(result.unknowns)} unknowns; median of {RUNS} runs"
    )
    print(
        f"  draft (assembly, guards, selection, redaction)  {draft_ms:6.1f} ms   target ≤ {TARGET_MS:.0f} ms  {verdict}"
    )
    print(f"  with reading the events from SQLite             {total_ms:6.1f} ms   (for reference)")


if __name__ == "__main__":
    main()
