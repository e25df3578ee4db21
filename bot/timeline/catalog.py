"""The service catalog of services.yml: which service an alert, a repository, a config path or an Argo CD app belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config
from bot.timeline.sources import ChangeIn, SignalIn

ENVIRONMENT_LABELS = ("environment", "env")


@dataclass(frozen=True)
class ServiceCatalog:
    config: Config

    def service_of_signal(self, signal: SignalIn) -> str | None:
        for label in self.config.steward.alert_service_labels:
            value = signal.labels.get(label)
            if value:
                return value
        return None

    @staticmethod
    def environment_of_signal(signal: SignalIn) -> str | None:
        for label in ENVIRONMENT_LABELS:
            value = signal.labels.get(label)
            if value:
                return value
        return None

    def services_of_change(self, change: ChangeIn) -> list[tuple[str | None, str | None]]:
        """(service, environment) pairs a change concerns; a config push may touch several services."""
        services = self.config.services.services
        if change.service:
            return [(change.service, change.environment)]
        if change.application:
            for name, service in services.items():
                for environment, app in service.argocd_apps.items():
                    if app == change.application:
                        return [(name, change.environment or environment)]
        if change.kind == "config_change" and change.files:
            touched = [
                name
                for name, service in services.items()
                if any(f.startswith(p) for f in change.files for p in service.config_paths)
            ]
            if touched:
                return [(name, change.environment) for name in touched]
        if change.repository:
            for name, service in services.items():
                if change.repository in service.github_repos:
                    return [(name, change.environment)]
        return [(None, change.environment)]

    def flags_of(self, service: str) -> list[str]:
        entry = self.config.services.services.get(service)
        return list(entry.flags) if entry else []
