"""`gitops-platform:argocd`: the Argo CD install, its project, sync windows and what it may deploy."""
from __future__ import annotations

import re
import zoneinfo
from typing import Any, Literal

from pydantic import Field, field_validator

from components.config.base import Model, check_duration, check_repo_path, dns_label
from components.grammars import cron
from components.urls import check_url

WRITE_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


class SyncWindow(Model):
    kind: Literal["allow", "deny"] = "allow"
    schedule: str
    duration: str
    manual_sync: bool = True
    timezone: str = "UTC"
    # Which Applications the window covers (Argo CD applies a window to nothing unless it names
    # applications, namespaces or clusters); default: every Application of the project.
    applications: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    _duration = field_validator("duration")(classmethod(lambda cls, v: check_duration(v)))

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        # As Argo CD parses it: robfig/cron v3 with minute, hour, day of month, month and day of week
        # (argo-cd pkg/apis/application/v1alpha1 SyncWindow.Validate); names like MON-FRI, no @daily.
        try:
            cron.check_schedule(value)
        except cron.CronError as err:
            raise ValueError(f"{value!r} is not a schedule Argo CD accepts (5 fields: minute hour day-of-month "
                             f"month day-of-week, e.g. '0 8 * * MON-FRI'): {err}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        # Argo CD would only log a warning for an unknown zone and use UTC: the window would silently move.
        if value != "UTC":
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not an IANA time zone like Europe/Berlin or America/New_York") from None
        return value

    @field_validator("applications")
    @classmethod
    def _applications(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not re.fullmatch(r"[a-z0-9*?.-]{1,253}", pattern):
                raise ValueError(f"{pattern!r} is not an Application name or glob (lower-case letters, digits, "
                                 "'-', '.', '*', '?')")
        return value


class AppOfApps(Model):
    enabled: bool = False
    path: str = "argocd/apps"

    _path = field_validator("path")(classmethod(lambda cls, v: check_repo_path(v)))


class DeployerRule(Model):
    """More than the built-in kinds Argo CD may deploy into the app namespaces (an RBAC rule)."""

    api_groups: list[str] = Field(min_length=1)
    resources: list[str] = Field(min_length=1)
    verbs: list[Literal[WRITE_VERBS]] = Field(default_factory=lambda: list(WRITE_VERBS), min_length=1)

    @field_validator("api_groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        for group in value:
            if group == "*" or not re.fullmatch(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?|",
                                                group):
                raise ValueError(f"{group!r} is not an API group like monitoring.coreos.com (no '*': name the "
                                 "groups the apps need)")
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: list[str]) -> list[str]:
        for resource in value:
            if not re.fullmatch(r"[a-z][a-z0-9]*(/[a-z]+)?|\*", resource):
                raise ValueError(f"{resource!r} is not a resource like servicemonitors (lower-case plural)")
        return value


class ArgoCDConfig(Model):
    ha: bool = False
    project: str = ""
    app_of_apps: AppOfApps = AppOfApps()
    reconciliation: str = "120s"
    webhook: bool = True
    cascade_delete: bool = False
    sync_windows: list[SyncWindow] | None = None
    # Kinds beyond the platform's deployer role that the apps' overlays hold (e.g. ServiceMonitors).
    deployer_rules: list[DeployerRule] = Field(default_factory=list)
    # Where users and GitHub reach the Argo CD server when it sits behind an ingress or load balancer
    # the platform does not manage (eks/existing); drives the URL and webhook URL outputs.
    external_url: str | None = None

    # 0s turns Argo CD's periodic refresh off: it then refreshes on webhooks (and hard refreshes) alone
    # (argo-cd@v3.4.4 docs/operator-manual/argocd-cm.yaml, timeout.reconciliation).
    _reconciliation = field_validator("reconciliation")(classmethod(lambda cls, v: check_duration(v, zero=True)))

    @field_validator("external_url")
    @classmethod
    def _external_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        check_url(value, "", ("https", "http"))
        if value.split("://", 1)[1].rstrip("/").count("/"):
            # Serving under a sub-path needs server.rootpath/basehref, which the platform does not set.
            raise ValueError(f"{value!r} has a path; serve Argo CD at the root of its own host name")
        return value.rstrip("/")

    @field_validator("app_of_apps", mode="before")
    @classmethod
    def _bool_shorthand(cls, value: Any) -> Any:
        # `appOfApps: true` is accepted as shorthand for `{enabled: true}`.
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if value == "default":
            raise ValueError("'default' is Argo CD's built-in AppProject (it allows every repo and "
                             "destination); choose a name of its own or leave it empty for the environment")
        return value if value == "" else dns_label("AppProject name")(value)


def app_of_apps_names(project: str) -> tuple[str, str]:
    """(AppProject, Application) names of the app-of-apps root for the platform project `project`."""
    return f"{project}-root", f"{project}-app-of-apps"
