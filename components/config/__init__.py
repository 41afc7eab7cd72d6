"""Typed stack configuration: the user's interface to the platform.

`load_config` turns the raw Pulumi structured config (keys without the `gitops-platform:` prefix) into a
validated `PlatformConfig`, or raises `ConfigError` whose lines each name the exact key at fault, e.g.
`gitops-platform:apps[1].namespace: 'Book_Dev' is not a valid Kubernetes namespace name`. Every model
forbids unknown keys and coerces nothing: a typo or a wrong type in a stack file is an error, never
silently ignored. One module per concern: base (shared rules), cluster, repos, apps, argocd, tekton,
flux (with Flagger), platform (the whole stack and its cross-section checks), loader (reading a stack).
"""
from components.config.apps import (
    App,
    Build,
    Canary,
    CanaryMetric,
    ImagePolicy,
    canary_wait_seconds,
    glob_regex,
    metric_template_name,
)
from components.config.argocd import AppOfApps, ArgoCDConfig, DeployerRule, SyncWindow, app_of_apps_names
from components.config.base import (
    PROJECT,
    Model,
    PlatformConfigErrors,
    check_duration,
    check_git_ref,
    check_repo_path,
    dns_label,
    duration_seconds,
    is_cluster_local,
    repo_host,
    repo_is_ssh,
)
from components.config.cluster import ClusterConfig, EksCluster, ExistingCluster, KindCluster
from components.config.flux import INGRESS_PROVIDERS, MESH_PROVIDERS, Features, FlaggerConfig, FluxConfig
from components.config.gateway import GatewayConfig, TlsConfig
from components.config.loader import (
    ENVIRONMENTS,
    RETIRED_KEYS,
    SECRET_KEYS,
    ConfigError,
    combination_problems,
    load_config,
    read_stack,
    secret_problems,
)
from components.config.platform import RESERVED_NAMESPACES, PlatformConfig
from components.config.repos import ConfigRepo, Registry
from components.config.tekton import TektonConfig
from components.config.webhooks import Relay, WebhooksConfig

__all__ = [
    "App", "AppOfApps", "ArgoCDConfig", "Build", "Canary", "CanaryMetric", "GatewayConfig", "ClusterConfig", "ConfigError", "ConfigRepo",
    "DeployerRule", "ENVIRONMENTS", "EksCluster", "ExistingCluster", "FlaggerConfig", "FluxConfig", "Features",
    "INGRESS_PROVIDERS", "ImagePolicy", "KindCluster", "MESH_PROVIDERS", "Model", "PROJECT", "PlatformConfig",
    "PlatformConfigErrors", "RESERVED_NAMESPACES", "RETIRED_KEYS", "Registry", "SECRET_KEYS", "SyncWindow",
    "Relay", "TektonConfig", "TlsConfig", "WebhooksConfig", "app_of_apps_names", "canary_wait_seconds", "metric_template_name", "check_duration", "check_git_ref", "check_repo_path",
    "combination_problems", "dns_label", "duration_seconds", "glob_regex", "is_cluster_local", "load_config",
    "read_stack", "repo_host", "repo_is_ssh", "secret_problems",
]
