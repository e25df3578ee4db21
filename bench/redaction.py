"""Benchmark of the one redaction function over realistic alert annotation lines.

Times `Redactor.redact` on 10,000 lines (90 % benign, 10 % carrying a secret) and, for
comparison, detect-secrets without our prefilter: its ad-hoc `scan_line` API and its plugins
called directly. Run with `python bench/redaction.py`; it takes well under 30 seconds.
"""

from __future__ import annotations

import random
import string
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detect_secrets.core.scan import scan_line
from detect_secrets.settings import default_settings

from bot.redact.redactor import Redactor, _scanner

LINES = 10_000
SECRET_SHARE = 0.10
# scan_line costs about a millisecond a line; a sample keeps the run short.
SCAN_LINE_SAMPLE = 1_000
# The best of a few runs: the machine is shared, and noise only ever adds time.
REPEATS = 3

rng = random.Random(20261125)

SERVICES = ["payments-gw", "checkout", "ledger", "auth-service", "search-api", "notifier"]
ROUTES = ["/v1/charge", "/v1/refund", "/v2/customers", "/healthz", "/v1/sessions"]
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]


def _pick(items: list[str]) -> str:
    return rng.choice(items)


def _chars(alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _hex(n: int) -> str:
    return _chars("0123456789abcdef", n)


def _b64(n: int) -> str:
    return _chars(string.ascii_letters + string.digits + "+/", n)


def _pod() -> str:
    return f"{_pick(SERVICES)}-{_hex(10)}-{_chars(string.ascii_lowercase + string.digits, 5)}"


def _uuid() -> str:
    return f"{_hex(8)}-{_hex(4)}-{_hex(4)}-{_hex(4)}-{_hex(12)}"


BENIGN: list[Callable[[], str]] = [
    lambda: f"HTTP 502 from upstream {_pick(SERVICES)}",
    lambda: f"error rate {rng.randint(1, 40)}% on {_pick(ROUTES)} (threshold 5%)",
    lambda: f"Pod prod/{_pod()} has been in CrashLoopBackOff for {rng.randint(5, 60)} minutes",
    lambda: f"Deploy {_pick(SERVICES)} v2.{rng.randint(0, 30)}.{rng.randint(0, 9)} commit {_hex(40)} by Dana Kim",
    lambda: f"p99 latency {rng.randint(200, 4000)}ms on {_pick(SERVICES)} in {_pick(REGIONS)}",
    lambda: f"Runbook: https://runbooks.example.com/{_pick(SERVICES)}/high-error-rate",
    lambda: (
        f"Node ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)} disk usage {rng.randint(80, 99)}% on /var/lib/docker"
    ),
    lambda: f"Alert KubePodCrashLooping firing since 2026-11-25T10:{rng.randint(10, 59)}:00Z (fingerprint {_hex(16)})",
    lambda: f"trace_id={_hex(32)} span_id={_hex(16)} status=UNAVAILABLE",
    lambda: f"auth-service token refresh latency high: p95 {rng.randint(100, 900)}ms",
    lambda: f"Redis keyspace hit ratio dropped to {rng.randint(40, 90)}%",
    lambda: f"Connection pool exhausted for ledger-db (max 100), request_id={_uuid()}",
    lambda: f"Kafka consumer group billing lag {rng.randint(1000, 90000)} on topic payments.events",
    lambda: f'MountVolume.SetUp failed for volume "creds" : secret "{_pick(SERVICES)}-db" not found',
    lambda: f"TLS certificate for api.example.com expires in {rng.randint(1, 30)} days",
]

SECRET: list[Callable[[], str]] = [
    lambda: f"DB connect failed: postgres://app:{_b64(16)}@db1.corp.internal:5432/payments",
    lambda: f"retrying login with password={_b64(12)} for user svc-ledger",
    lambda: f"curl -H 'Authorization: Bearer {_b64(40)}' https://api.example.com/v1/charge",
    lambda: (
        f"env AWS_ACCESS_KEY_ID=AKIA{_chars(string.ascii_uppercase + string.digits, 16)} AWS_SECRET_ACCESS_KEY={_b64(40)}"
    ),
    lambda: (
        f"notifier configured with xoxb-{rng.randint(10**11, 10**12)}-{rng.randint(10**12, 10**13)}-{_b64(24).replace('+', 'a').replace('/', 'b')}"
    ),
    lambda: f"GITHUB_TOKEN=ghp_{_chars(string.ascii_letters + string.digits, 36)} used by deploy bot",
    lambda: f'config dump {{"api_key": "{_b64(32)}", "region": "{_pick(REGIONS)}"}}',
    lambda: (
        f"session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI{_b64(20).replace('+', 'x').replace('/', 'y')}.{_b64(43).replace('+', '-').replace('/', '_')} rejected"
    ),
    lambda: f"contact dana.kim@example.com for access to {_pick(SERVICES)}",
    lambda: f"leaked in logs: {_b64(40)}",
]


def corpus() -> list[tuple[str, bool]]:
    """Lines, each with whether it carries a secret."""
    return [
        (rng.choice(SECRET)(), True) if rng.random() < SECRET_SHARE else (rng.choice(BENIGN)(), False)
        for _ in range(LINES)
    ]


def timed(label: str, lines: list[str], fn: Callable[[str], object], repeats: int = REPEATS) -> float:
    elapsed = min(_run(lines, fn) for _ in range(repeats))
    per_line = elapsed / len(lines) * 1e6
    print(f"{label:<48} {len(lines) / elapsed:>10,.0f} lines/s {per_line:>9.1f} µs/line")
    return per_line


def _run(lines: list[str], fn: Callable[[str], object]) -> float:
    start = time.perf_counter()
    for line in lines:
        fn(line)
    return time.perf_counter() - start


def consume(findings: Iterable[object]) -> None:
    for _ in findings:
        pass


def main() -> None:
    labelled = corpus()
    lines = [line for line, _ in labelled]
    redactor = Redactor(internal_host_patterns=[r"\.corp\.internal$"])
    redactor.redact("warm up")

    secrets = sum(has_secret for _, has_secret in labelled)
    print(f"{len(lines):,} annotation lines, {secrets:,} with a secret; best of {REPEATS} runs\n")
    timed("Redactor.redact (prefilter + rules + plugins)", lines, redactor.redact)
    caught = sum(redactor.redact(line) != line for line, has_secret in labelled if has_secret)
    altered = sum(redactor.redact(line) != line for line, has_secret in labelled if not has_secret)
    print(
        f"{'':<48} secret lines redacted {caught:,}/{secrets:,}, "
        f"benign lines altered {altered:,}/{len(lines) - secrets:,}\n"
    )

    scanner = _scanner()
    timed("detect-secrets plugins, direct, no prefilter", lines, scanner.redact_line)
    with default_settings():
        timed(
            f"detect-secrets scan_line, no prefilter ({SCAN_LINE_SAMPLE:,})",
            lines[:SCAN_LINE_SAMPLE],
            lambda line: consume(scan_line(line)),
            repeats=1,
        )


if __name__ == "__main__":
    main()
