"""The whole stack's config and the checks that need more than one section."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.config.apps import App, metric_template_name, query_problem, template_values
from components.config.argocd import ArgoCDConfig, SyncWindow, app_of_apps_names
from components.config.base import DNS1123_LABEL, Model, PlatformConfigErrors, repo_is_ssh
from components.config.cluster import ClusterConfig
from components.config.embedded import (
    CONFIG_REPO,
    GIT_NAMESPACE,
    REGISTRY_HOST,
    REGISTRY_NAMESPACE,
    GitServerConfig,
    repo_url,
)
from components.config.flux import INGRESS_PROVIDERS, Features, FlaggerConfig, FluxConfig
from components.config.gateway import GatewayConfig
from components.config.repos import ConfigRepo, Registry
from components.config.tekton import TektonConfig
from components.config.webhooks import WebhooksConfig
from components.urls import redact
from components.versions import Versions

# Namespaces the platform's components own, or Kubernetes itself: no app, and no second component, may
# take one of them.
PLATFORM_NAMESPACES = frozenset({"argocd", "tekton-pipelines", "tekton-pipelines-resolvers", "flux-system",
                                 "flagger-system", "gateway-system", "envoy-gateway-system", "cert-manager",
                                 GIT_NAMESPACE, REGISTRY_NAMESPACE})
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
RESERVED_NAMESPACES = PLATFORM_NAMESPACES | SYSTEM_NAMESPACES
# Tekton labels every TaskRun and pod with its PipelineRun's name (tekton.dev/pipelineRun), and a label
# value holds at most 63 characters: "<app>-ci-" plus the 5 characters generateName adds.
PIPELINE_RUN_SUFFIX = len("-ci-") + 5


class PlatformConfig(Model):
    environment: Literal["dev", "staging", "prod"]
    cluster: ClusterConfig = ClusterConfig()
    config_repo: ConfigRepo
    registry: Registry = Registry()
    apps: Annotated[list[App], Field(min_length=1)]
    features: Features = Features()
    versions: Versions = Versions()
    argocd: ArgoCDConfig = ArgoCDConfig()
    tekton: TektonConfig = TektonConfig()
    image_updates: Literal["tekton", "flux"] = "tekton"
    flux: FluxConfig = FluxConfig()
    flagger: FlaggerConfig = FlaggerConfig()
    gateway: GatewayConfig = GatewayConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    git_server: GitServerConfig = GitServerConfig()
    protect: bool | None = None  # default: true in prod
    # Pod Security admission level enforced in the app namespaces (warn and audit are always restricted).
    pod_security: Literal["baseline", "restricted"] = "baseline"

    # ---- derived values every component uses, so the defaults live in one place
    @property
    def cluster_name(self) -> str:
        return self.cluster.name or f"gitops-{self.environment}"

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def protected(self) -> bool:
        return self.is_prod if self.protect is None else self.protect

    def namespace_of(self, app: App) -> str:
        return app.namespace or f"{app.name}-{self.environment}"

    def path_of(self, app: App) -> str:
        return app.path or f"{app.name}/overlays/{self.environment}"

    def sync_of(self, app: App) -> str:
        return app.sync or ("manual" if self.is_prod else "auto")

    @property
    def app_namespaces(self) -> list[str]:
        """Distinct app namespaces, in the order apps declare them."""
        return list(dict.fromkeys(self.namespace_of(app) for app in self.apps))

    @property
    def argocd_project(self) -> str:
        return self.argocd.project or self.environment

    @property
    def tekton_enabled(self) -> bool:
        return self.features.tekton

    @property
    def flux_enabled(self) -> bool:
        return self.features.flux and self.image_updates == "flux"

    @property
    def flagger_enabled(self) -> bool:
        return self.features.flagger and any(app.has_canary for app in self.apps)

    @property
    def gateway_enabled(self) -> bool:
        return self.gateway.enabled

    @property
    def mesh_provider(self) -> str:
        """Flagger's provider: the user's, else Gateway API through the platform Gateway, else blue/green."""
        if self.flagger.mesh_provider:
            return self.flagger.mesh_provider
        return "gatewayapi:v1" if self.gateway_enabled else "kubernetes"

    @property
    def installs_prometheus(self) -> bool:
        """The platform installs the Prometheus the analysis queries unless the user named one."""
        return self.flagger_enabled and self.flagger.prometheus is None

    @property
    def app_domain(self) -> str:
        """The domain canary hostnames live under: `localhost` on kind (*.localhost is the loopback
        address by RFC 6761, no DNS or /etc/hosts), else `<environment>.gitops.internal` until set."""
        if self.gateway.domain:
            return self.gateway.domain
        return "localhost" if self.cluster.provider == "kind" else f"{self.environment}.gitops.internal"

    @property
    def embedded_git(self) -> bool:
        """The config repo (and the example app's source) live on the Git server in the cluster."""
        return self.git_server.enabled

    @property
    def embedded_registry(self) -> bool:
        return self.cluster.provider == "kind" and self.registry.server == REGISTRY_HOST

    @property
    def installs_envoy_gateway(self) -> bool:
        return self.gateway_enabled and self.gateway.class_name is None

    @property
    def public_domain(self) -> str | None:
        """The domain the platform's own endpoints (argocd.<domain>, hooks.<domain>) are served under:
        only a domain the user set (the kind default `localhost` is for apps on this machine)."""
        return self.gateway.domain if self.gateway_enabled and self.gateway.domain else None

    @property
    def tls_issuer(self) -> str:
        """letsencrypt | selfsigned | secret (the user's Secret) | none: how the HTTPS listeners get a
        certificate; none without a public domain (then there are no such listeners)."""
        if self.public_domain is None:
            return "none"
        if self.gateway.tls.secret_name:
            return "secret"
        return self.gateway.tls.issuer or ("none" if self.cluster.provider == "kind" else "letsencrypt")

    @property
    def tls_enabled(self) -> bool:
        return self.tls_issuer != "none"

    @property
    def installs_cert_manager(self) -> bool:
        return self.tls_issuer in ("letsencrypt", "selfsigned")

    @property
    def argocd_host(self) -> str | None:
        return f"argocd.{self.public_domain}" if self.public_domain else None

    @property
    def hooks_host(self) -> str | None:
        return f"hooks.{self.public_domain}" if self.public_domain else None

    def host_of(self, app: App) -> str:
        return (app.canary.host if app.canary and app.canary.host else None) or f"{app.name}.{self.app_domain}"

    @property
    def sync_windows(self) -> list[SyncWindow]:
        if self.argocd.sync_windows is not None:
            return self.argocd.sync_windows
        if self.is_prod:  # prod default: people deploy during working hours only
            return [SyncWindow(kind="allow", schedule="0 8 * * 1-5", duration="9h", manual_sync=True)]
        return []

    @model_validator(mode="after")
    def _cross_checks(self):
        errors = cross_checks(self, list(enumerate(self.apps)))
        if errors:
            raise PlatformConfigErrors(errors)
        return self


def cross_checks(cfg: PlatformConfig, apps: list[tuple[int, App]]) -> list[tuple[str, str]]:
    """Problems that need several sections, keyed relative to the stack. `apps` are the valid apps with
    their index in the stack file, so that a run with invalid apps still reports these for the others.
    `cfg` may be partly built (sections that failed validation are their defaults)."""
    errors: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    deploys: dict[tuple[str, str], tuple[int, str]] = {}   # (namespace, path) -> (index, app name)
    for i, app in apps:
        if app.name in seen:
            errors.append((f"apps[{i}].name", f"duplicate app name {app.name!r} (also apps[{seen[app.name]}])"))
        seen.setdefault(app.name, i)
        ns = cfg.namespace_of(app)
        where = f"apps[{i}].namespace"
        if app.namespace is None and (len(ns) > 63 or not DNS1123_LABEL.fullmatch(ns)):
            errors.append((where, f"is not set, and the default {ns!r} (<name>-<environment>) is over 63 "
                           "characters; set a namespace"))
        elif ns in RESERVED_NAMESPACES or ns == cfg.tekton.namespace:
            errors.append((where, f"{ns!r} is reserved for the platform; choose an app namespace of its own"))
        if app.source_repo and cfg.features.tekton and len(app.name) > 63 - PIPELINE_RUN_SUFFIX:
            errors.append((f"apps[{i}].name", f"{app.name!r} is too long to be built: its PipelineRuns are named "
                           f"'{app.name}-ci-xxxxx', and Tekton labels their pods with that name (at most 63 "
                           f"characters): keep it to {63 - PIPELINE_RUN_SUFFIX}"))
        path = (ns, cfg.path_of(app))
        other = deploys.setdefault(path, (i, app.name))
        if other[1] != app.name:   # the same name twice is reported once, as a duplicate
            errors.append((f"apps[{i}].path", f"{path[1]!r} into namespace {ns!r} is what apps[{other[0]}] "
                           "deploys already: two Applications would fight over the same objects"))
        if app.has_canary:
            for j, metric in enumerate(app.canary.metrics):
                problem = query_problem(metric.query, template_values(app, ns, metric.interval,
                                                                          cfg.mesh_provider == "apisix"))
                if problem:
                    errors.append((f"apps[{i}].canary.metrics[{j}].query", problem))
        if app.has_canary and not cfg.features.flagger:
            errors.append((f"apps[{i}].canary", "needs features.flagger: true"))
        provider = cfg.mesh_provider
        if app.has_canary and provider.split(":")[0] in INGRESS_PROVIDERS and not app.canary.ingress:
            routed_by = "an ApisixRoute" if provider == "apisix" else "an Ingress"
            errors.append((f"apps[{i}].canary.ingress",
                           f"provider {provider!r} routes traffic through {routed_by}; "
                           f"name the app's {routed_by.split()[-1]}"))
        if app.has_canary and provider.startswith("gatewayapi") and not app.canary.gateway \
                and not cfg.gateway_enabled:
            errors.append((f"apps[{i}].canary.gateway",
                           f"provider {provider!r} routes traffic through a Gateway API Gateway and "
                           "gateway.enabled is false; name one ('gateway' or 'namespace/gateway')"))
        if cfg.image_updates == "flux" and app.image_policy is None:
            errors.append((f"apps[{i}].imagePolicy", "is required with imageUpdates: flux"))
    if not cfg.embedded_registry and any(app.image.startswith(REGISTRY_HOST + "/") for _, app in apps):
        errors.append(("registry", f"is {cfg.registry.server!r}, so the in-cluster registry is not installed, but "
                       f"an app's image is on it ({REGISTRY_HOST}; the example app is, when apps is not set): "
                       "remove registry to use the in-cluster one, or set apps with images on your registry"))
    errors += _name_collisions(cfg, apps)
    errors += _host_collisions(cfg, apps)
    errors += _metric_template_collisions(cfg, apps)
    errors += _argocd_name_collisions(cfg, apps)
    if cfg.tekton.namespace in RESERVED_NAMESPACES:
        errors.append(("tekton.namespace", f"{cfg.tekton.namespace!r} belongs to another component or to Kubernetes; "
                       "the CI namespace needs one of its own"))
    if cfg.image_updates == "flux" and not cfg.features.flux:
        errors.append(("imageUpdates", "'flux' needs features.flux: true"))
    repo = getattr(cfg, "config_repo", None)
    if repo is not None:
        if cfg.flux_enabled and repo_is_ssh(repo.url) and not (cfg.flux.ssh_known_hosts or cfg.tekton.ssh_known_hosts):
            errors.append(("flux.sshKnownHosts", "is required for an ssh configRepo.url with imageUpdates: flux "
                           "(host keys are verified, never skipped)"))
        if cfg.tekton.git_auth == "ssh" and not repo_is_ssh(repo.url):
            errors.append(("tekton.gitAuth", "'ssh' needs an ssh:// or git@host:path configRepo.url"))
    on_kind = cfg.cluster.provider == "kind"
    if on_kind:
        errors += _host_port_collisions(cfg)
    if cfg.tls_issuer == "letsencrypt" and not cfg.gateway.tls.email:
        errors.append(("gateway.tls.email", "is required for Let's Encrypt (the ACME account's contact), or set "
                       "gateway.tls.issuer: selfsigned, or secretName"))
    if cfg.git_server.enabled and cfg.cluster.provider != "kind":
        errors.append(("gitServer.enabled", "the embedded Git server is for kind; set configRepo to your Git server"))
    elif cfg.git_server.enabled and repo is not None and repo.url != repo_url(CONFIG_REPO):
        # The pipelines would send the embedded server's admin credentials to the configRepo host and open
        # their pull requests on the Gitea API: each credential must stay with its own host.
        errors.append(("gitServer.enabled", f"is true and configRepo.url is {redact(repo.url)!r}: the embedded Git "
                       "server holds the config repo only when configRepo is not set (remove configRepo to use "
                       "it, or gitServer to use your own Git server)"))
    if cfg.gateway.class_name and not cfg.gateway_enabled:
        errors.append(("gateway.className", "is set but gateway.enabled is false"))
    if cfg.gateway_enabled and cfg.gateway.class_name and cfg.gateway.service_type:
        errors.append(("gateway.serviceType", "configures the Envoy Gateway the platform installs; with className "
                       "your GatewayClass's implementation decides how the Gateway is exposed"))
    if cfg.argocd.ha and cfg.cluster.provider == "kind" and cfg.cluster.kind.schedulable_nodes < 3:
        errors.append(("argocd.ha", f"needs 3 schedulable nodes (redis-ha's pods refuse to share a node), and this "
                       f"kind cluster has {cfg.cluster.kind.schedulable_nodes}: set cluster.kind.workers to 3 or more"))
    return errors


def _argocd_name_collisions(cfg: PlatformConfig, apps: list[tuple[int, App]]) -> list[tuple[str, str]]:
    """An app may not take the name of the app-of-apps root Application (same namespace, `argocd`)."""
    if not cfg.argocd.app_of_apps.enabled:
        return []
    _, root = app_of_apps_names(cfg.argocd_project)
    return [(f"apps[{i}].name", f"{app.name!r} is the name of the app-of-apps root Application "
             "(argocd.appOfApps); rename the app or set argocd.project")
            for i, app in apps if app.name == root]


def _name_collisions(cfg: PlatformConfig, apps: list[tuple[int, App]]) -> list[tuple[str, str]]:
    """Objects two apps would both own once names are derived the way Kubernetes tools derive them.

    Flagger turns Deployment `d` into `d-primary` and adds Services `d`, `d-canary`, `d-primary`, so a
    canary app `web` and an app `web-primary` in the same namespace would fight over one object, and
    derived names must still fit the 63-character limit of a Service name.
    """
    errors: list[tuple[str, str]] = []
    owners: dict[tuple[str, str], int] = {}
    by_index = dict(apps)
    for i, app in apps:
        ns = cfg.namespace_of(app)
        names = [app.name]
        if app.has_canary:
            target = app.canary.deployment or app.name
            names = list(dict.fromkeys([app.name, target, f"{target}-primary", f"{target}-canary"]))
            if len(target) > 63 - len("-primary"):
                errors.append((f"apps[{i}].name" if not app.canary.deployment else f"apps[{i}].canary.deployment",
                               f"{target!r} is too long for a canary: Flagger's '{target}-primary' would exceed "
                               "63 characters"))
        for name in names:
            other = owners.get((ns, name))
            if other is not None and by_index[other].name != app.name:  # same name: a duplicate, reported once
                errors.append((f"apps[{i}].name", f"{app.name!r} collides with apps[{other}] "
                               f"({by_index[other].name!r}) on {name!r} in namespace {ns!r}"
                               + (" (Flagger derives -primary/-canary names)" if name != app.name
                                  or by_index[other].has_canary else "")))
                break
            owners[(ns, name)] = i
    return errors


def _host_port_collisions(cfg: PlatformConfig) -> list[tuple[str, str]]:
    """Every host port kind maps must be distinct: a second mapping of one port makes `kind create
    cluster` fail (docker cannot bind it twice)."""
    kind = cfg.cluster.kind
    ports = [("cluster.kind.argocdHostPort", kind.argocd_host_port),
             ("cluster.kind.dashboardHostPort", kind.dashboard_host_port)]
    if cfg.gateway_enabled:
        ports.append(("gateway.hostPort", cfg.gateway.host_port))
    if cfg.tls_enabled:
        ports.append(("gateway.httpsHostPort", cfg.gateway.https_host_port))
    if cfg.git_server.enabled:
        ports.append(("gitServer.hostPort", cfg.git_server.host_port))
    errors, seen = [], {}
    for key, port in ports:
        if port in seen and not (seen[port].startswith("cluster.kind.") and key.startswith("cluster.kind.")):
            errors.append((key, f"{port} is also {seen[port]}: every host port of the kind cluster must be "
                           "distinct; choose another"))
        seen.setdefault(port, key)
    return errors


def _host_collisions(cfg: PlatformConfig, apps: list[tuple[int, App]]) -> list[tuple[str, str]]:
    """Hostnames the Gateway routes: an app may not take the platform's own (argocd.<domain>,
    hooks.<domain>, where Argo CD and the webhooks are served) or another app's, and a derived hostname
    must fit DNS (253 characters)."""
    if not cfg.gateway_enabled:
        return []
    errors: list[tuple[str, str]] = []
    owners: dict[str, str] = {}
    if cfg.argocd_host:
        owners[cfg.argocd_host] = "the Argo CD hostname (argocd.<gateway.domain>)"
    if cfg.hooks_host:
        owners[cfg.hooks_host] = "the webhooks hostname (hooks.<gateway.domain>)"
    for i, app in apps:
        if not app.has_canary:
            continue
        host = cfg.host_of(app)
        key = f"apps[{i}].canary.host" if app.canary.host else f"apps[{i}].name"
        if len(host) > 253:
            errors.append((key, f"gives the hostname {host[:40]}... of {len(host)} characters (<name>.gateway.domain), "
                           "over DNS's 253: set canary.host or a shorter gateway.domain"))
            continue
        if host in owners:
            errors.append((key, f"{host!r} is {owners[host]}: choose another app name or canary.host"))
            continue
        owners[host] = f"the hostname of apps[{i}] ({app.name!r})"
    return errors


def _metric_template_collisions(cfg: PlatformConfig, apps: list[tuple[int, App]]) -> list[tuple[str, str]]:
    """MetricTemplates are named <app>-<metric> (cut to 63 characters) in the app's namespace: two checks
    that derive one name would overwrite each other's query."""
    errors: list[tuple[str, str]] = []
    owners: dict[tuple[str, str], str] = {}
    for i, app in apps:
        if not app.has_canary:
            continue
        for j, metric in enumerate(app.canary.metrics):
            name = metric_template_name(app, metric.name)
            where = (cfg.namespace_of(app), name)
            if where in owners:
                errors.append((f"apps[{i}].canary.metrics[{j}].name",
                               f"gives the MetricTemplate {name!r} in namespace {where[0]!r}, as {owners[where]} "
                               "does (<app>-<metric>, cut to 63 characters): rename one"))
                continue
            owners[where] = f"apps[{i}].canary.metrics[{j}]"
    return errors
