"""How fast Steward acks a slash command, against the HTTP floor and a default Bolt app (DESIGN section 2).

One run, three servers, each its own uvicorn process (one worker, same settings, free loopback port):

1. Steward: the real app built like `steward serve` (SQLite in a temp dir, examples/config, one worker process), its
   Slack being a SlackSandbox in a fourth process. An incident is declared first through a signed
   `/incident declare` on /slack/events; the load is then a signed `/incident note <text>` in that incident's
   channel, so every request takes the full path: verify, store as a job (group commit), ack; then, in the worker
   process `steward serve` starts, Bolt dispatch, the note's DB insert and chat.postMessage.
2. The HTTP floor: a raw Starlette endpoint answering 200 (bench/floors.py).
3. A default bare Bolt app (not process_before_response) behind slack_bolt's Starlette adapter (bench/floors.py).

The client is wrk (50 connections, 2 threads, --latency, a 2 s warm-up then 10 s measured per target), every
request the same correctly signed body. Afterwards Steward's worker backlog is drained (bounded) and counted.
Targets: Steward's p99 <= 2x the floor's p99 and its throughput >= 50 % of the floor's. Misses are printed,
not failed: the exit code is 0 unless the benchmark itself could not run.

    python bench/ack_latency.py [--duration 10] [--warmup 2] [--connections 50] [--threads 2] [--drain-timeout 25]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-sandbox"
NOTE = "note bench: p99 on checkout-api back under 300ms after rollback"
UVICORN = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--lifespan", "off"]
P99_TARGET = 2.0  # Steward p99 <= 2x floor p99
THROUGHPUT_TARGET = 0.5  # Steward requests/s >= 50 % of floor


# --- processes run by the benchmark ------------------------------------------------------------------------


def steward_app():
    """Steward as `steward serve` builds it, for `uvicorn --factory ack_latency:steward_app`."""
    from bot.app import build, freeze_startup_heap
    from bot.config import load_config, load_settings
    from bot.runtime.logs import configure_logging
    from bot.store.db import Database
    from handlers.door import DOOR

    url = os.environ["BENCH_DATABASE_URL"]
    settings = load_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=os.environ["BENCH_API_URL"],
        database_url=url,
        steward_config=Path(os.environ["BENCH_CONFIG"]),
        steward_secret="bench-steward-secret",
    )
    configure_logging(settings.log_format)  # as `steward serve`
    Database(url).upgrade()
    steward = build(settings, load_config(settings.steward_config), DOOR)
    freeze_startup_heap()  # as `steward serve` does
    return steward.asgi


def run_sandbox() -> None:
    """The Slack stand-in in its own process: prints its URLs as one JSON line, serves until stdin closes."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from bot.sandbox import SlackSandbox

    class BenchSandbox(SlackSandbox):
        def routes(self) -> list:
            return [*super().routes(), Route("/bench/response_url", self._issue), Route("/bench/stats", self._stats)]

        async def _issue(self, request: Request) -> JSONResponse:
            q = request.query_params
            return JSONResponse({"url": self.response_urls.issue(q["user"], q["channel"])})

        async def _stats(self, request: Request) -> JSONResponse:
            channel = request.query_params.get("channel")
            posts = self.calls_to("chat.postMessage")
            return JSONResponse(
                {
                    "posted": sum(1 for c in posts if c.ok and c.params.get("channel") == channel),
                    "calls": len(self.calls),
                }
            )

    sandbox = BenchSandbox(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN).start()
    print(json.dumps({"api_url": sandbox.api_url, "base_url": sandbox.base_url}), flush=True)
    try:
        sys.stdin.read()
    finally:
        sandbox.stop()


# --- helpers -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 5.0) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def busy_seconds() -> float:
    """CPU time every process on the machine spent, from /proc/stat (all CPUs, idle and iowait excluded)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One uvicorn process on a free loopback port."""

    def __init__(self, name: str, app: str, env: dict[str, str], factory: bool = False) -> None:
        self.name = name
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (the server writes to it until stop() closes it)
        args = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), *UVICORN, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*args, *(["--factory"] if factory else []), app],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # a worker still draining keeps the process alive
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def slash_command(channel_id: str, channel_name: str, text: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    """A slash command as Slack sends it: form-encoded fields and the v0 signature over timestamp and body."""
    body = urlencode(
        {
            "token": "bench-verification-token",
            "team_id": "T0STEWARD",
            "team_domain": "steward-sandbox",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": "U0COMMANDER",
            "user_name": "alice",
            "command": "/incident",
            "text": text,
            "api_app_id": "A0STEWARD",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1337.4242.bench0trigger",
        }
    ).encode()
    timestamp = str(int(time.time()))
    signature = (
        "v0=" + hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    )
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def lua_script(body: bytes, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def metrics(server: Server) -> dict[str, float]:
    _, text = http(f"{server.url}/metrics")
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("steward_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: str
    cpu_pct: float  # the server process's CPU over the measured run, % of one core
    wrk_pct: float  # wrk's
    sandbox_pct: float  # the Slack sandbox process's (Steward's run only)
    other_pct: float  # every other process on the machine (other people's jobs: noise)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(name: str, out: str, *cpu: float) -> Result:
    def find(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, out)
        if match is None:
            if default is None:
                raise RuntimeError(f"could not parse wrk output for {name}:\n{out}")
            return default
        return match.group(1)

    errors = find(r"Socket errors: (.*)", "none")
    return Result(
        name,
        float(find(r"Requests/sec:\s+([\d.]+)")),
        _ms(find(r"\s50%\s+(\S+)")),
        _ms(find(r"\s99%\s+(\S+)")),
        int(find(r"(\d+) requests in")),
        int(find(r"Non-2xx or 3xx responses: (\d+)", "0")),
        errors,
        *cpu,
    )


def wrk(url: str, script: Path, seconds: float, args: argparse.Namespace) -> str:
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "3s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}")
    return done.stdout


def measure(server: Server, script: Path, args: argparse.Namespace, sandbox_pid: int | None = None) -> Result:
    wrk(f"{server.url}/slack/events", script, args.warmup, args)
    server0, wrk0, busy0 = cpu_seconds(server.proc.pid), children_cpu(), busy_seconds()
    sandbox0 = cpu_seconds(sandbox_pid) if sandbox_pid else 0.0
    started = time.monotonic()
    out = wrk(f"{server.url}/slack/events", script, args.duration, args)
    elapsed = time.monotonic() - started
    server_cpu, wrk_cpu = cpu_seconds(server.proc.pid) - server0, children_cpu() - wrk0
    sandbox_cpu = cpu_seconds(sandbox_pid) - sandbox0 if sandbox_pid else 0.0
    other = busy_seconds() - busy0 - server_cpu - wrk_cpu - sandbox_cpu
    return parse_wrk(server.name, out, *(100 * x / elapsed for x in (server_cpu, wrk_cpu, sandbox_cpu, other)))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- the benchmark -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=25)
    parser.add_argument("--sandbox", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sandbox:
        run_sandbox()
        return 0
    if shutil.which("wrk") is None:
        print("ack_latency: wrk is not installed (make system-deps, or apt-get install wrk); skipped")
        return 0

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    db_path = tmp / "steward.db"
    servers: list[Server] = []
    sandbox = subprocess.Popen(
        [sys.executable, __file__, "--sandbox"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        urls = json.loads(sandbox.stdout.readline() or "{}")
        if "api_url" not in urls:
            raise RuntimeError("the Slack sandbox process did not start")
        base = urls["base_url"]
        env = {
            "BENCH_API_URL": urls["api_url"],
            "BENCH_SIGNING_SECRET": SIGNING_SECRET,
            "BENCH_BOT_TOKEN": BOT_TOKEN,
            "BENCH_DATABASE_URL": f"sqlite:///{db_path}",
            "BENCH_CONFIG": str(ROOT / "examples" / "config"),
        }
        steward = Server("Steward", "ack_latency:steward_app", env, factory=True)
        servers.append(steward)
        steward.wait_ready()

        # Declare the incident the way a person does: a signed /incident declare in #general.
        _, issued = http(f"{base}bench/response_url?user=U0COMMANDER&channel=C0GENERAL")
        body, headers = slash_command(
            "C0GENERAL", "general", "declare Bench checkout errors sev:SEV2", json.loads(issued)["url"]
        )
        status, answer = http(f"{steward.url}/slack/events", body, headers)
        if status != 200:
            raise RuntimeError(f"declare answered {status}: {answer}")
        channel = channel_name = None
        deadline = time.monotonic() + 15
        while channel is None and time.monotonic() < deadline:
            with sqlite3.connect(db_path) as db:
                row = db.execute(
                    "SELECT channel_id, channel_name FROM incident WHERE channel_id IS NOT NULL"
                ).fetchone()
            channel, channel_name = row if row else (None, None)
            time.sleep(0.1)
        if channel is None:
            raise RuntimeError(f"the declared incident got no channel:\n{steward.output()}")
        while metrics(steward).get("steward_worker_pending_jobs", 1) and time.monotonic() < deadline:
            time.sleep(0.05)

        _, issued = http(f"{base}bench/response_url?user=U0COMMANDER&channel={channel}")
        body, headers = slash_command(channel, channel_name, NOTE, json.loads(issued)["url"])
        script = tmp / "request.lua"
        script.write_text(lua_script(body, headers))
        status, answer = http(f"{steward.url}/slack/events", body, headers)  # one by hand: it must be a 200
        if status != 200:
            raise RuntimeError(f"the benchmark request answered {status}: {answer}")

        results = []
        for name, app, factory in (
            ("HTTP floor", "floors:raw_app", False),
            ("bare Bolt", "floors:bare_bolt_app", True),
        ):
            server = Server(name, app, env, factory=factory)
            servers.append(server)
            results.append(measure(server.wait_ready(), script, args))
            server.stop()

        def worker_state() -> tuple[float, float, int, int]:
            m = metrics(steward)
            with sqlite3.connect(db_path) as db:
                stored = db.execute("SELECT count(*) FROM timelineevent WHERE kind = 'note'").fetchone()[0]
            _, stats = http(f"{base}bench/stats?channel={channel}")
            return (
                m.get('steward_slack_requests_total{status="200"}', 0),
                m.get("steward_worker_pending_jobs", 0),
                stored,
                json.loads(stats)["posted"],
            )

        accepted0, _, stored0, posted0 = worker_state()
        results.append(measure(steward, script, args, sandbox.pid))
        load_end = time.monotonic()
        accepted, pending, stored, posted = worker_state()
        at_end = (stored - stored0, posted - posted0, pending)
        while pending and time.monotonic() - load_end < args.drain_timeout:
            time.sleep(0.25)
            accepted, pending, stored, posted = worker_state()
        drain = time.monotonic() - load_end
        report(
            results,
            args,
            accepted - accepted0,
            at_end,
            (stored - stored0, posted - posted0, pending),
            drain,
            time.monotonic() - started,
        )
        return 0
    finally:
        for server in servers:
            server.stop()
        if sandbox.poll() is None:
            sandbox.stdin.close()
            try:
                sandbox.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sandbox.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def report(
    results: list[Result],
    args: argparse.Namespace,
    accepted: float,
    at_end: tuple[int, int, float],
    final: tuple[int, int, float],
    drain: float,
    total: float,
) -> None:
    floor, _, steward = results
    print(
        f"ack latency: wrk -t{args.threads} -c{args.connections}, {args.warmup:g} s warm-up + {args.duration:g} s "
        f"per target, signed `/incident {NOTE.split()[0]} ...`; {os.cpu_count()} CPUs shared by wrk, the server "
        f"and (Steward only) the Slack sandbox process"
    )
    print(
        f"{'server':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'non-2xx':>9}"
        f"{'CPU% server':>12}{'wrk':>5}{'sandbox':>8}{'other':>6}  socket errors"
    )
    for r in results:
        print(
            f"{r.name:<12}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.requests:>10}{r.non2xx:>9}"
            f"{r.cpu_pct:>12.0f}{r.wrk_pct:>5.0f}{r.sandbox_pct:>8.0f}{r.other_pct:>6.0f}  {r.socket_errors}"
        )
    print(
        f"(CPU % over each measured run, 100 = one core of {os.cpu_count()}; 'other' = every other process on "
        f"the machine)"
    )
    noisy = [r.name for r in results if r.other_pct > 20]
    if noisy:
        print(f"*** other processes used more than 20 % of a core during: {', '.join(noisy)}; numbers are noisy ***")
    share, p99x = steward.rps / floor.rps, steward.p99_ms / floor.p99_ms
    ok_rps, ok_p99 = share >= THROUGHPUT_TARGET, p99x <= P99_TARGET
    print(
        f"Steward throughput {share:.0%} of floor (target >= {THROUGHPUT_TARGET:.0%}): {'PASS' if ok_rps else '*** MISS ***'}"
    )
    print(f"Steward p99 {p99x:.2f}x floor p99 (target <= {P99_TARGET:g}x): {'PASS' if ok_p99 else '*** MISS ***'}")
    if steward.non2xx:
        print(f"*** Steward answered {steward.non2xx} requests with non-2xx ***")
    stored_end, posted_end, pending_end = at_end
    stored, posted, pending = final
    print(
        f"worker (Steward acked {accepted:.0f} notes incl. warm-up): when the load stopped {stored_end} stored, "
        f"{posted_end} posted, {pending_end:.0f} queued"
    )
    state = "drained" if not pending else f"*** NOT drained, {pending:.0f} still queued ***"
    rate = (stored - stored_end) / drain if drain > 0.3 else float("nan")
    print(
        f"after {drain:.1f} s (bound {args.drain_timeout:g} s): {stored} stored, {posted} posted, {state}; "
        f"worker drained at {rate:.0f} notes/s with no load"
    )
    print(f"total {total:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
