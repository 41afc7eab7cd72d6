"""Argo CD custom resources (`argoproj.io/v1alpha1`): Application and AppProject.

Field names follow the upstream CRD schemas; the few keys that do not follow plain camelCase
(`repoURL`) carry an explicit alias.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.models import CustomObject, K8sModel

API_VERSION = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
MANIFEST_GENERATE_PATHS = "argocd.argoproj.io/manifest-generate-paths"


# ---------------------------------------------------------------- Application
class ApplicationSource(K8sModel):
    repo_url: str = Field(alias="repoURL")
    target_revision: str | None = None
    path: str | None = None


class ApplicationDestination(K8sModel):
    server: str = IN_CLUSTER
    namespace: str | None = None


class SyncAutomated(K8sModel):
    prune: bool
    self_heal: bool
    allow_empty: bool


class Backoff(K8sModel):
    duration: str
    factor: int
    max_duration: str


class RetryStrategy(K8sModel):
    limit: int
    backoff: Backoff


class SyncPolicy(K8sModel):
    automated: SyncAutomated | None = None
    sync_options: list[str] | None = None
    retry: RetryStrategy | None = None


class ResourceIgnoreDifferences(K8sModel):
    group: str | None = None
    kind: str
    name: str | None = None
    namespace: str | None = None
    json_pointers: list[str] | None = None


class ApplicationSpec(K8sModel):
    project: str
    source: ApplicationSource
    destination: ApplicationDestination
    sync_policy: SyncPolicy | None = None
    ignore_differences: list[ResourceIgnoreDifferences] | None = None


class Application(CustomObject):
    api_version = API_VERSION
    kind = "Application"
    spec: ApplicationSpec


# ---------------------------------------------------------------- AppProject
class GroupKind(K8sModel):
    group: str
    kind: str


class ProjectSyncWindow(K8sModel):
    kind: Literal["allow", "deny"]
    schedule: str
    duration: str
    manual_sync: bool | None = None
    time_zone: str | None = None
    applications: list[str] | None = None
    namespaces: list[str] | None = None


class AppProjectSpec(K8sModel):
    description: str | None = None
    source_repos: list[str]
    destinations: list[ApplicationDestination]
    cluster_resource_whitelist: list[GroupKind]
    namespace_resource_whitelist: list[GroupKind]
    sync_windows: list[ProjectSyncWindow] | None = None


class AppProject(CustomObject):
    api_version = API_VERSION
    kind = "AppProject"
    spec: AppProjectSpec
