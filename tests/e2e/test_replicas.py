"""Two `steward serve` processes on one PostgreSQL database: 50 concurrent Approve clicks spread over both run
the action once, and every other click is told it was handled."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot.sandbox import SlackSandbox
from bot.sandbox.local import BOT_TOKEN, SIGNING_SECRET
from bot.store.db import Database
from bot.store.models import ApprovalRequest, Execution
from tests.support.paths import ROOT
from tests.support.workspace import COMMANDER, ENGINEER, GENERAL, OBSERVER, block_text

pytestmark = pytest.mark.postgres


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(
    postgres_url: str, config_dir: Path, api_url: str, state: Path, workers: int = 1
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "STEWARD_CONFIG": str(config_dir),
        "STEWARD_SECRET": "replica-secret",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STATE_DIR": str(state / str(port)),
        "WORKER_PROCESSES": str(workers),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--no-migrate"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"steward serve did not become ready: {process.stderr.read()[-2000:]}")


def pending_jobs(url: str) -> float:
    line = next(
        sample
        for sample in httpx.get(f"{url}/metrics").text.splitlines()
        if sample.startswith("steward_worker_pending_jobs ")
    )
    return float(line.split()[-1])


def settle(sandbox: SlackSandbox, *urls: str) -> None:
    deadline = time.monotonic() + 60
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        sandbox.wait_idle(timeout=30)
        quiet = quiet + 1 if all(pending_jobs(u) == 0 for u in urls) else 0
        time.sleep(0.1)
    assert quiet >= 3, "the replicas' workers did not go quiet"


def test_fifty_approvals_over_two_serve_processes_execute_once(postgres_url, config_dir, tmp_path):
    Database(postgres_url).upgrade()
    with SlackSandbox(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN) as sandbox:
        first, first_url = serve(postgres_url, config_dir, sandbox.api_url, tmp_path)
        second, second_url = serve(postgres_url, config_dir, sandbox.api_url, tmp_path, workers=2)  # 3 claimers in all
        try:
            sandbox.events_url = f"{first_url}/slack/events"
            sandbox.command("declare Checkout errors sev:SEV2 service:payment-api", user=COMMANDER, channel=GENERAL)
            settle(sandbox, first_url, second_url)
            channel = next(c.id for c in sandbox.channels if c.name.startswith("inc-"))
            sandbox.command("role sre_oncall @carol", user=COMMANDER, channel=channel)
            sandbox.command("mitigate flag checkout.new-routing off", user=ENGINEER, channel=channel)
            settle(sandbox, first_url, second_url)
            message = next(m for m in sandbox.messages(channel) if "Approval request" in block_text(m.blocks))
            targets = [f"{first_url}/slack/events", f"{second_url}/slack/events"]
            clickers = [COMMANDER, OBSERVER]

            def click(n: int) -> int:
                return sandbox.click_button(
                    message, "approval_approve", user=clickers[n % 2], to=targets[n % 2]
                ).status_code

            with ThreadPoolExecutor(16) as pool:
                assert set(pool.map(click, range(50))) == {200}
            settle(sandbox, first_url, second_url)
        finally:
            for process in (first, second):
                process.terminate()
                process.wait(timeout=20)
        db = Database(postgres_url)
        with db.session() as session:
            assert len(session.exec(select(Execution)).all()) == 1
            assert session.exec(select(ApprovalRequest)).one().state == "executed"
        db.engine.dispose()
        edits = [
            c
            for c in sandbox.calls_to("chat.update")
            if c.params.get("ts") == message.ts and "Executed by" in json.dumps(c.params.get("blocks"))
        ]
        assert len(edits) == 1
        told = [m for user in clickers for m in sandbox.ephemerals(user) if "already handled" in (m.text or "")]
        assert len(told) == 49
        assert (
            json.loads((config_dir / "flags.flagd.json").read_text())["flags"]["checkout.new-routing"]["defaultVariant"]
            == "off"
        )
