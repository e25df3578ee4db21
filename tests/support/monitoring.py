"""Run the REAL Prometheus and Alertmanager binaries for end-to-end tests.

Not a test module: an importable helper. Typical use::

    from tests.support.monitoring import Alertmanager, Prometheus, free_port, require_monitoring

    require_monitoring()        # pytest.fail (or skip with STEWARD_SKIP_MONITORING=1)
    with Alertmanager(webhook_url="http://127.0.0.1:8085/webhooks/alertmanager",
                      bearer_token="tok") as am:          # start() on enter, stop() on exit
        am.fire(labels={"alertname": "HighErrorRate", "service": "payment-api"})
        ...
        am.resolve(labels={"alertname": "HighErrorRate", "service": "payment-api"})
        with Prometheus(alertmanager_url=am.url) as prom:  # start AM first!
            ...

Each process runs in its own process group on 127.0.0.1:<free port>, with a
config rendered from tests/support/fixtures/monitoring/*.tmpl into a private temp
dir that also holds its storage and its log (stdout+stderr). ``start()``
waits for ``GET /-/ready`` == 200 and raises :class:`MonitoringError` with the
log tail if the process exits or does not become ready in time. ``stop()``
sends SIGTERM to the group, then SIGKILL after a grace period; an atexit
hook stops anything a test forgot.

Binaries (Debian bookworm packages, installed by scripts/install-monitoring.sh):
/usr/bin/prometheus-alertmanager (0.25) and /usr/bin/prometheus (2.42).
Override with STEWARD_ALERTMANAGER_BIN / STEWARD_PROMETHEUS_BIN.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from tests.support.paths import FIXTURES

__all__ = [
    "ALERTMANAGER_BIN",
    "AMTOOL_BIN",
    "FIXTURES_DIR",
    "INSTALL_HINT",
    "PROMETHEUS_BIN",
    "PROMTOOL_BIN",
    "Alertmanager",
    "BinaryNotFound",
    "MonitoringError",
    "Prometheus",
    "free_port",
    "missing_binaries",
    "require_monitoring",
    "rfc3339",
    "wait_for",
]

FIXTURES_DIR = FIXTURES / "monitoring"
DEFAULT_RULES = FIXTURES_DIR / "rules.yml"

ALERTMANAGER_BIN = os.environ.get("STEWARD_ALERTMANAGER_BIN", "/usr/bin/prometheus-alertmanager")
PROMETHEUS_BIN = os.environ.get("STEWARD_PROMETHEUS_BIN", "/usr/bin/prometheus")
AMTOOL_BIN = "/usr/bin/amtool"
PROMTOOL_BIN = "/usr/bin/promtool"

INSTALL_HINT = (
    "run scripts/install-monitoring.sh (as root) to install Debian's prometheus and "
    "prometheus-alertmanager; set STEWARD_SKIP_MONITORING=1 to skip these tests locally"
)
SKIP_ENV = "STEWARD_SKIP_MONITORING"

LOOPBACK = "127.0.0.1"
_PORT_RETRIES = 3  # free_port() is racy: retry start-up on "address already in use"

T = TypeVar("T")


class MonitoringError(RuntimeError):
    """A monitoring process failed to start, answer or stop."""


class BinaryNotFound(MonitoringError):
    pass


# --------------------------------------------------------------------------- helpers


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free on ``host`` a moment ago (bind to 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def missing_binaries() -> list[str]:
    return [b for b in (ALERTMANAGER_BIN, PROMETHEUS_BIN) if not os.access(b, os.X_OK)]


def require_monitoring() -> None:
    """Call at the top of a monitoring test (or in a fixture).

    Skips when STEWARD_SKIP_MONITORING=1; otherwise FAILS (never skips) when a
    binary is missing, telling how to install it: CI skips nothing.
    """
    import pytest

    if os.environ.get(SKIP_ENV, "").strip().lower() in ("1", "true", "yes"):
        pytest.skip(f"{SKIP_ENV} is set")
    missing = missing_binaries()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: {INSTALL_HINT}", pytrace=False)


def rfc3339(dt: datetime | str | None = None) -> str:
    """RFC 3339 UTC timestamp with milliseconds (``...T12:00:00.123Z``); now if None."""
    if isinstance(dt, str):
        return dt
    if dt is None:
        dt = datetime.now(UTC)
    elif dt.tzinfo is None:
        raise ValueError("naive datetime: pass an aware (UTC) datetime")
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 20.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value (returned), or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {message}")
        time.sleep(interval)


def _yaml_str(value: str) -> str:
    # A JSON string literal is a valid YAML double-quoted scalar.
    return json.dumps(str(value))


def _render(template: Path, **values: str) -> str:
    return string.Template(template.read_text()).substitute(values)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<no log: {e}>"
    return "\n".join(text.splitlines()[-lines:])


_live: set[_Process] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        procs = list(_live)
    for p in procs:
        try:
            p.stop()
        except Exception:
            pass


# --------------------------------------------------------------------------- base class


class _Process:
    """One server binary on 127.0.0.1:<port> with a rendered config and a temp dir."""

    name = "process"
    binary = ""
    config_name = "config.yml"

    def __init__(
        self,
        *,
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        extra_args: Iterable[str] = (),
    ) -> None:
        self._fixed_port = port
        self.port: int = port or 0
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self._own_dir = workdir is None
        self.dir = Path(workdir) if workdir is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None
        self.startup_seconds: float | None = None  # wall time from spawn to /-/ready
        self._http = httpx.Client(timeout=5.0, trust_env=False)

    # -- to override
    def _write_config(self) -> Path:
        raise NotImplementedError

    def _args(self, config: Path) -> list[str]:
        raise NotImplementedError

    # -- public
    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def config_path(self) -> Path:
        assert self.dir is not None, "not started"
        return self.dir / self.config_name

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, "not started"
        return self.dir / f"{self.name}.log"

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines) if self.dir is not None else ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def write_config(self) -> Path:
        """Render the config (and pick a port) without starting; returns its path."""
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix=f"steward-{self.name}-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        return self._write_config()

    def start(self) -> Self:
        """Spawn and wait for ``GET /-/ready``; returns self. No-op if running."""
        if self.running():
            return self
        if not os.access(self.binary, os.X_OK):
            raise BinaryNotFound(f"{self.binary} not found: {INSTALL_HINT}")
        last_error: MonitoringError | None = None
        for _ in range(_PORT_RETRIES):
            if self._fixed_port is None:
                self.port = 0  # new free port on each attempt
            try:
                self._spawn_and_wait()
                return self
            except MonitoringError as e:
                last_error = e
                if self._fixed_port is not None or "address already in use" not in str(e):
                    raise
        assert last_error is not None
        raise last_error

    def _spawn_and_wait(self) -> None:
        config = self.write_config()
        args = [self.binary, *self._args(config), *self.extra_args]
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_fh.write(f"$ {' '.join(args)}\n".encode())
        self._log_fh.flush()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            start_new_session=True,  # own session + process group
        )
        with _live_lock:
            _live.add(self)
        deadline = t0 + self.startup_timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                self._cleanup_process()
                raise MonitoringError(
                    f"{self.name} exited with code {code} during start-up "
                    f"({self.url}); log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if self._http.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    self.startup_seconds = time.monotonic() - t0
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                self.stop(remove_dir=False)
                raise MonitoringError(
                    f"{self.name} not ready at {self.url}/-/ready after "
                    f"{self.startup_timeout:.0f}s; log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _cleanup_process(self) -> None:
        with _live_lock:
            _live.discard(self)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def stop(self, timeout: float = 10.0, remove_dir: bool = True) -> None:
        """SIGTERM the process group, SIGKILL after ``timeout``; remove our temp dir."""
        proc = self.proc
        if proc is not None:
            pgid = proc.pid  # leader of its own group (start_new_session=True)
            if proc.poll() is None:
                try:
                    os.killpg(pgid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            # Kill whatever is left in the group (the leader or any child).
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=timeout)
            self.proc = None
        self._cleanup_process()
        if remove_dir and self._own_dir and self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            if self._fixed_port is None:
                self.port = 0

    def close(self) -> None:
        self.stop()
        self._http.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running() else "stopped"
        return f"<{type(self).__name__} {self.url if self.port else '-'} {state}>"

    # -- HTTP helpers
    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        resp = self._http.request(method, f"{self.url}{path}", **kw)
        if resp.status_code >= 300:
            raise MonitoringError(f"{self.name} {method} {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp


# --------------------------------------------------------------------------- Alertmanager


class Alertmanager(_Process):
    """Real Alertmanager sending every alert to one webhook (Bearer auth, send_resolved)."""

    name = "alertmanager"
    binary = ALERTMANAGER_BIN
    config_name = "alertmanager.yml"
    template = FIXTURES_DIR / "alertmanager.yml.tmpl"

    def __init__(
        self,
        webhook_url: str,
        bearer_token: str = "tok",
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "1h",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.binary = ALERTMANAGER_BIN
        self.webhook_url = webhook_url
        self.bearer_token = bearer_token
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self._starts: dict[frozenset[tuple[str, str]], str] = {}

    def _write_config(self) -> Path:
        text = _render(
            self.template,
            webhook_url=_yaml_str(self.webhook_url),
            bearer_token=_yaml_str(self.bearer_token),
            group_wait=_yaml_str(self.group_wait),
            group_interval=_yaml_str(self.group_interval),
            repeat_interval=_yaml_str(self.repeat_interval),
        )
        self.config_path.write_text(text)
        return self.config_path

    def _args(self, config: Path) -> list[str]:
        assert self.dir is not None
        return [
            f"--config.file={config}",
            f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",  # no gossip (port 9094)
            "--log.level=debug",
        ]

    def check_config(self) -> str:
        """``amtool check-config`` on the rendered config; returns its output."""
        return _check([AMTOOL_BIN, "check-config", str(self.write_config())])

    def fire(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        starts_at: datetime | str | None = None,
        generator_url: str | None = None,
    ) -> None:
        """POST /api/v2/alerts with one firing alert (no endsAt)."""
        starts = rfc3339(starts_at)
        self._starts[frozenset(labels.items())] = starts
        alert: dict[str, Any] = {
            "labels": dict(labels),
            "annotations": dict(annotations or {}),
            "startsAt": starts,
        }
        if generator_url:
            alert["generatorURL"] = generator_url
        self.post_alerts([alert])

    def resolve(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        ends_at: datetime | str | None = None,
    ) -> None:
        """Re-POST the same label set with endsAt = now (or ``ends_at``)."""
        ends = rfc3339(ends_at)
        alert: dict[str, Any] = {
            "labels": dict(labels),
            "annotations": dict(annotations or {}),
            "endsAt": ends,
        }
        starts = self._starts.pop(frozenset(labels.items()), None)
        if starts is not None and starts <= ends:  # same format -> string order is time order
            alert["startsAt"] = starts
        self.post_alerts([alert])

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self._request("POST", "/api/v2/alerts", json=alerts)

    def alerts(self, **params: Any) -> list[dict[str, Any]]:
        """GET /api/v2/alerts (e.g. ``active=True``, ``filter=['alertname="X"']``)."""
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
        return self._request("GET", "/api/v2/alerts", params=params).json()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- Prometheus


class Prometheus(_Process):
    """Real Prometheus evaluating ``rule_files`` every second, alerting ``alertmanager_url``.

    Start the Alertmanager first. Even then, Prometheus only learns its
    Alertmanagers from service discovery ~5 s after start-up (the discovery
    manager batches updates every 5 s), and alerts evaluated before that are
    dropped and re-sent only after ``--rules.alert.resend-delay`` (Prometheus
    default 1m). So the harness defaults to ``resend_delay="1s"``: a rule that
    fires at once reaches Alertmanager ~5-6 s after start. Side effect:
    Prometheus sends endsAt = now + 4 x max(resend delay, eval interval) (4 s),
    so Alertmanager resolves the alerts ~4 s after Prometheus stops (pass
    ``resend_delay=None`` for Prometheus's default).
    """

    name = "prometheus"
    binary = PROMETHEUS_BIN
    config_name = "prometheus.yml"
    template = FIXTURES_DIR / "prometheus.yml.tmpl"

    def __init__(
        self,
        alertmanager_url: str,
        rule_files: Iterable[str | os.PathLike[str]] | None = None,
        scrape_targets: Iterable[str] = (),
        evaluation_interval: str = "1s",
        scrape_interval: str = "1s",
        resend_delay: str | None = "1s",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.binary = PROMETHEUS_BIN
        self.alertmanager_url = alertmanager_url
        self.rule_files = [Path(p).resolve() for p in (rule_files if rule_files is not None else [DEFAULT_RULES])]
        self.scrape_targets = list(scrape_targets)  # "host:port", scraped as job "steward-e2e"
        self.evaluation_interval = evaluation_interval
        self.scrape_interval = scrape_interval
        self.resend_delay = resend_delay

    def _write_config(self) -> Path:
        am = urlsplit(self.alertmanager_url)
        if not am.scheme or not am.netloc:
            raise ValueError(f"alertmanager_url must be http://host:port, got {self.alertmanager_url!r}")
        text = _render(
            self.template,
            scrape_interval=_yaml_str(self.scrape_interval),
            evaluation_interval=_yaml_str(self.evaluation_interval),
            rule_files=json.dumps([str(p) for p in self.rule_files]),
            am_scheme=_yaml_str(am.scheme),
            am_path_prefix=_yaml_str(am.path or "/"),
            am_targets=json.dumps([am.netloc]),
            self_targets=json.dumps([f"{LOOPBACK}:{self.port}"]),
            extra_targets=json.dumps(self.scrape_targets),
        )
        self.config_path.write_text(text)
        return self.config_path

    def _args(self, config: Path) -> list[str]:
        assert self.dir is not None
        args = [
            f"--config.file={config}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            f"--web.external-url={self.url}",
            "--log.level=debug",
        ]
        if self.resend_delay:
            args.append(f"--rules.alert.resend-delay={self.resend_delay}")
        return args

    def check_config(self) -> str:
        """``promtool check config`` (also checks the rule files); returns its output."""
        return _check([PROMTOOL_BIN, "check", "config", str(self.write_config())])

    def alerts(self) -> list[dict[str, Any]]:
        """GET /api/v1/alerts -> data.alerts (pending and firing)."""
        return self._request("GET", "/api/v1/alerts").json()["data"]["alerts"]  # type: ignore[no-any-return]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self._request("GET", "/api/v1/query", params={"query": expr}).json()["data"]["result"]  # type: ignore[no-any-return]


def _check(args: list[str]) -> str:
    if not os.access(args[0], os.X_OK):
        raise BinaryNotFound(f"{args[0]} not found: {INSTALL_HINT}")
    res = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    out = (res.stdout + res.stderr).strip()
    if res.returncode != 0:
        raise MonitoringError(f"{' '.join(args)} failed ({res.returncode}):\n{out}")
    return out
