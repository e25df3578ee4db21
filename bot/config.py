"""Settings from the environment (pydantic-settings) and the config directory (`STEWARD_CONFIG`), validated at start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.policy.service import PolicySet, load_policies

SLACK_DEFAULT_API_URL = "https://slack.com/api/"
Severity = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
LogFormat = Literal["text", "json"]


class LogSettings(BaseSettings):
    """How the process writes its log: `text` for people, `json` (one object per line) for a log pipeline."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    log_format: LogFormat = "text"


class DatabaseSettings(BaseSettings):
    """Just the database, for commands that need nothing else (`steward db upgrade`)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    database_url: str = "sqlite:///./steward.db"


class Settings(DatabaseSettings, LogSettings):
    """Process settings; the env names are the contract of DESIGN section 2."""

    slack_bot_token: str = "xoxb-unset"
    slack_signing_secret: str = ""
    slack_app_token: str | None = None
    slack_api_url: str = SLACK_DEFAULT_API_URL
    steward_config: Path
    steward_secret: str
    webhook_token: str | None = None
    github_webhook_secret: str | None = None
    approval_ttl_seconds: int = 600
    steward_kill_switch: bool = False
    github_token: str | None = None
    argocd_token: str | None = None
    unleash_api_token: str | None = None
    launchdarkly_api_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8085
    state_dir: Path = Path(".steward")  # work clones of GitOps repositories
    worker_processes: int = Field(default=1, ge=0)  # processes that run acked jobs; 0 runs them on threads here

    @field_validator("slack_api_url")
    @classmethod
    def _ends_with_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto the base URL, so "…/api" would call "…/apichat.postMessage".
        if not value.endswith("/"):
            raise ValueError("must end with '/' (slack_sdk appends method names to it)")
        return value


AnySettings = TypeVar("AnySettings", bound=BaseSettings)


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a missing required variable is one line naming it, not a traceback."""
    return read_settings(Settings, **overrides)


def read_settings(model: type[AnySettings], **overrides: Any) -> AnySettings:
    """Read some of the settings (`LogSettings`, say), with load_settings' one-line errors."""
    try:
        return model(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]).upper() if item["loc"] else "settings"
            problems.append(f"{name} is required" if item["type"] == "missing" else f"{name}: {item['msg']}")
        raise ConfigError("; ".join(problems)) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _default_cadence() -> dict[Severity, int]:
    return {"SEV1": 15, "SEV2": 30, "SEV3": 60}


class StewardFile(_Strict):
    """steward.yml"""

    channel_prefix: str = "inc-"
    triage_channel: str | None = None
    status_channel: str | None = None
    admins: list[str] = Field(default_factory=list)
    lookback_minutes: int = Field(default=120, ge=0)
    update_cadence_minutes: dict[Severity, int] = Field(default_factory=_default_cadence)
    alert_service_labels: list[str] = Field(default_factory=lambda: ["service", "app"])
    internal_host_patterns: list[str] = Field(default_factory=list)
    prometheus_url: str | None = None

    @field_validator("internal_host_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression: {error}") from None
        return value

    @field_validator("channel_prefix")
    @classmethod
    def _prefix_is_channel_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9_-]{1,20}", value):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (Slack channel name rules)")
        return value


class FlagsConfig(_Strict):
    provider: Literal["flagd", "unleash", "launchdarkly"] = "flagd"
    path: str | None = None
    paths: dict[str, str] | None = None
    url: str | None = None
    project: str | None = None


class RollbackConfig(_Strict):
    provider: Literal["gitops", "argocd", "github"]
    repo: str | None = None  # gitops: path (relative to the config dir) or URL; github: owner/name
    file: str | None = None
    key: str | None = None
    url: str | None = None  # argocd / github API base


class ServiceConfig(_Strict):
    criticality: Literal["internal", "customer-facing", "payment", "compliance"] = "internal"
    environments: list[str] = Field(default_factory=lambda: ["production"])
    flags: list[str] = Field(default_factory=list)
    github_repos: list[str] = Field(default_factory=list)
    argocd_apps: dict[str, str] = Field(default_factory=dict)
    config_paths: list[str] = Field(default_factory=list)
    migration_paths: list[str] = Field(default_factory=list)
    rollback: RollbackConfig | None = None


class ServicesFile(_Strict):
    """services.yml"""

    flags: FlagsConfig = Field(default_factory=FlagsConfig)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)


class Config(BaseModel):
    """The whole config directory, loaded and validated."""

    directory: Path
    steward: StewardFile
    services: ServicesFile
    policies: PolicySet


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path.name}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: the top level must be a mapping")
    return data


def validate_file(model: type[BaseModel], path: Path, required: bool = False) -> Any:
    """Validate one YAML file against its model; errors name the file and the key path."""
    if not path.exists():
        if required:
            raise ConfigError(f"{path.name}: file not found in {path.parent}")
        return model()
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as error:
        raise ConfigError(
            "\n".join(f"{path.name}: {_key_path(e['loc'])}: {e['msg']}" for e in error.errors())
        ) from None


def _key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def load_config(directory: Path) -> Config:
    if not directory.is_dir():
        raise ConfigError(f"STEWARD_CONFIG: {directory} is not a directory")
    return Config(
        directory=directory,
        steward=validate_file(StewardFile, directory / "steward.yml", required=True),
        services=validate_file(ServicesFile, directory / "services.yml"),
        # No policies.yml means no action is allowed: the policy fails closed.
        policies=load_policies(directory / "policies.yml")
        if (directory / "policies.yml").exists()
        else PolicySet(policies=[]),
    )


def config_schema() -> dict[str, Any]:
    """JSON Schema of every config file, generated from the models (`steward config schema`)."""
    return {
        "steward.yml": StewardFile.model_json_schema(),
        "services.yml": ServicesFile.model_json_schema(),
        "policies.yml": PolicySet.model_json_schema(),
    }
