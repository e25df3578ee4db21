"""The HTTP server's own endpoints, settings and config validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.config import load_config, load_settings
from bot.errors import ConfigError
from bot.store.db import Database

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
def test_health_readiness_and_metrics(workspace):
    base = workspace.server.url
    assert httpx.get(f"{base}/healthz").text == "ok"
    assert httpx.get(f"{base}/readyz").json() == {"ready": True}
    workspace.command("help")
    metrics = httpx.get(f"{base}/metrics").text
    assert 'steward_slack_requests_total{status="200"}' in metrics


@sqlite_only
def test_readiness_fails_when_the_database_is_gone(workspace, tmp_path):
    workspace.steward.runtime.db = Database(f"sqlite:///{tmp_path}/missing-dir/steward.db")
    response = httpx.get(f"{workspace.server.url}/readyz")
    assert response.status_code == 503
    assert response.json()["reason"] == "database unreachable"


def _steward(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "SLACK_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_serve_without_required_settings_is_one_line():
    result = _steward("serve", env={})
    assert result.returncode == 2
    assert result.stderr.strip() == "steward: STEWARD_CONFIG is required; STEWARD_SECRET is required"


def test_config_check_names_file_and_key(config_dir):
    (config_dir / "services.yml").write_text("services:\n  payment-api:\n    criticality: vital\n")
    result = _steward("config", "check", env={"STEWARD_CONFIG": str(config_dir)})
    assert result.returncode == 2
    assert "services.yml: services.payment-api.criticality:" in result.stderr


@pytest.mark.parametrize(
    ("file", "content", "expected"),
    [
        ("steward.yml", "lookback_minutes: -5\n", "steward.yml: lookback_minutes:"),
        ("steward.yml", "chanel_prefix: inc-\n", "steward.yml: chanel_prefix: Extra inputs are not permitted"),
        ("steward.yml", "internal_host_patterns: ['(']\n", "steward.yml: internal_host_patterns:"),
        ("steward.yml", "- a list\n", "steward.yml: the top level must be a mapping"),
        (
            "services.yml",
            "services:\n  x:\n    rollback: {provider: ftp}\n",
            "services.yml: services.x.rollback.provider:",
        ),
        ("services.yml", "flags: [1, 2\n", "services.yml: not valid YAML"),
    ],
)
def test_config_errors_name_the_file_and_key(config_dir, file, content, expected):
    (config_dir / file).write_text(content)
    with pytest.raises(ConfigError) as error:
        load_config(config_dir)
    assert str(error.value).startswith(expected)


def test_slack_api_url_must_end_with_a_slash(config_dir):
    with pytest.raises(ConfigError, match=r"SLACK_API_URL: .*must end with '/'"):
        load_settings(steward_config=config_dir, steward_secret="x", slack_api_url="http://127.0.0.1:1/api")


def test_config_schema_covers_every_file():
    result = _steward("config", "schema", env={})
    assert result.returncode == 0
    assert {"steward.yml", "services.yml"} <= set(__import__("json").loads(result.stdout))


def test_missing_config_dir_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="is not a directory"):
        load_config(tmp_path / "missing")
