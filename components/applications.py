"""Argo CD objects for the configured apps: the AppProject, one Application per app, the RBAC that
lets the application controller deploy into the app namespaces, and the config repo credentials."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config import App, PlatformConfig, app_of_apps_names, repo_is_ssh
from components.models import LABELS, ObjectMeta, custom_resource
from components.models.argocd import (
    MANIFEST_GENERATE_PATHS,
    RESOURCES_FINALIZER,
    Application,
    ApplicationDestination,
    ApplicationSource,
    ApplicationSpec,
    AppProject,
    AppProjectSpec,
    Backoff,
    GroupKind,
    ProjectSyncWindow,
    ResourceIgnoreDifferences,
    RetryStrategy,
    SyncAutomated,
    SyncPolicy,
)

# The namespaces exist before any Application (the platform creates them), so no CreateNamespace.
SYNC_OPTIONS = ["PruneLast=true"]
RETRY = RetryStrategy(limit=5, backoff=Backoff(duration="5s", factor=2, max_duration="3m"))
REPO_SECRET = "config-repo"
DEPLOYER_ROLE = "gitops-argocd-deployer"
DEPLOYER_EXTRA_ROLE = "gitops-argocd-deployer-extra"
SERVER_ROLE = "gitops-argocd-server"
DEPLOYER_BINDING = "argocd-deployer"
SERVER_BINDING = "argocd-server"
AGGREGATE_TO_DEPLOYER = "gitops-platform/aggregate-to-deployer"
# What the application controller deploys into an app namespace: everything the built-in `admin` role
# allows (aggregated from it, so CRDs that ship an aggregate-to-admin role are included as they are
# installed), plus the namespaced kinds `admin` leaves read-only or out but that overlays commonly hold.
# Still forbidden: Roles that grant more than this (no escalate/bind), cluster-scoped kinds, and deleting
# the namespace itself; see README "What Argo CD may deploy".
DEPLOYER_EXTRA_RULES = [
    {"apiGroups": [""], "resources": ["resourcequotas", "limitranges", "endpoints"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
]
# What the UI does in an app namespace (argo-cd server/application: delete and patch a resource, the
# resource actions such as restart, which patch, "create job" from a CronJob, pod logs): no exec, no
# port-forward, no token minting, no impersonation, no creating workloads.
SERVER_RULES = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch", "patch", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
]


@dataclass(frozen=True)
class ArgoApplicationsArgs:
    """The platform config, where Argo CD runs, and what its objects must wait for."""

    config: PlatformConfig
    provider: k8s.Provider
    install: pulumi.Resource                   # the Argo CD Helm release (brings the CRDs)
    argocd_namespace: pulumi.Resource          # the `argocd` Namespace resource
    namespaces: dict[str, pulumi.Resource]     # app namespace -> Namespace resource
    service_accounts: tuple[str, ...]          # Argo CD's controller and server ServiceAccounts
    namespace: str = "argocd"
    git_token: pulumi.Output[str] | None = None
    git_ssh_private_key: pulumi.Output[str] | None = None
    after: tuple[pulumi.Resource, ...] = ()    # what the Applications wait for (the embedded Git server's seeding)


def sync_policy(sync: str, extra_options: tuple[str, ...] = ()) -> SyncPolicy:
    """`auto`: automated prune + selfHeal; `manual`: no `automated` block. Same options and retry."""
    automated = SyncAutomated(prune=True, self_heal=True, allow_empty=False) if sync == "auto" else None
    return SyncPolicy(automated=automated, sync_options=[*SYNC_OPTIONS, *extra_options], retry=RETRY)


def generate_paths(path: str) -> str:
    """The manifest-generate-paths annotation: the app path, absolute in the repo (a relative value
    would be read relative to the app path), plus the kustomize base next to an `overlays/<env>` path
    so a change to the base refreshes every environment of the app and nothing else."""
    paths = ["/" + path]
    parent, _ = posixpath.split(path)
    root, overlays = posixpath.split(parent)
    if overlays == "overlays":
        paths.append("/" + posixpath.join(root, "base") if root else "/base")
    return ";".join(paths)


def application(config: PlatformConfig, app: App, namespace: str, labels: dict[str, str]) -> Application:
    """The Application that deploys `app` from the config repo into its namespace."""
    path = config.path_of(app)
    ignore, extra_options = None, ()
    if app.has_canary:
        target = app.canary.deployment or app.name
        # Flagger owns two fields of objects the app's overlay declares (fluxcd/flagger@v1.44.0):
        # it scales the app's Deployment to zero and runs a `-primary` copy (pkg/canary/
        # deployment_controller.go ScaleToZero), and it points the `<target>` Service at the primary,
        # rewriting its selector and ports (pkg/router/kubernetes_default.go reconcileService). Without
        # this Argo CD reports OutOfSync and selfHeal reverts them, flipping traffic back and forth.
        # RespectIgnoreDifferences keeps a sync from resetting the ignored fields too. Everything else
        # Flagger makes (the -primary/-canary Deployments and Services, the HTTPRoute) it owns through an
        # ownerReference to the Canary and Argo CD never tracks: Argo CD 3's annotation tracking ignores
        # a tracking id copied onto another object's name.
        ignore = [ResourceIgnoreDifferences(group="apps", kind="Deployment", name=target,
                                            json_pointers=["/spec/replicas"]),
                  ResourceIgnoreDifferences(group="", kind="Service", name=target,
                                            json_pointers=["/spec/selector", "/spec/ports"])]
        extra_options = ("RespectIgnoreDifferences=true",)
    return Application(
        metadata=ObjectMeta(
            name=app.name, namespace=namespace, labels=labels,
            annotations={MANIFEST_GENERATE_PATHS: generate_paths(path)},
            finalizers=[RESOURCES_FINALIZER] if config.argocd.cascade_delete else None),
        spec=ApplicationSpec(
            project=config.argocd_project,
            source=ApplicationSource(repo_url=config.config_repo.url,
                                     target_revision=config.config_repo.revision, path=path),
            destination=ApplicationDestination(namespace=config.namespace_of(app)),
            sync_policy=sync_policy(config.sync_of(app), extra_options),
            ignore_differences=ignore))


def sync_windows(config: PlatformConfig) -> list[ProjectSyncWindow] | None:
    windows = [ProjectSyncWindow(kind=w.kind, schedule=w.schedule, duration=w.duration,
                                 manual_sync=w.manual_sync, time_zone=w.timezone,
                                 applications=list(w.applications))
               for w in config.sync_windows]
    return windows or None


def app_project(config: PlatformConfig, namespace: str, labels: dict[str, str]) -> AppProject:
    """The platform's AppProject: the config repo only, the app namespaces only, no cluster-scoped kind."""
    return AppProject(
        metadata=ObjectMeta(name=config.argocd_project, namespace=namespace, labels=labels),
        spec=AppProjectSpec(
            description=f"gitops-platform apps of the {config.environment} environment",
            source_repos=[config.config_repo.url],
            destinations=[ApplicationDestination(namespace=ns) for ns in config.app_namespaces],
            # No cluster-scoped kind: the platform owns the namespaces, and Argo CD may not write
            # anything outside them.
            cluster_resource_whitelist=[],
            namespace_resource_whitelist=[GroupKind(group="*", kind="*")],
            sync_windows=sync_windows(config)))


def root_names(config: PlatformConfig) -> tuple[str, str]:
    """(AppProject, Application) names of the app-of-apps root."""
    return app_of_apps_names(config.argocd_project)


def root_project(config: PlatformConfig, namespace: str, labels: dict[str, str]) -> AppProject:
    """The app-of-apps root gets a project of its own: it must write Applications into the Argo CD
    namespace, which the apps' project must never allow (an app could then deploy anything there)."""
    project, _ = root_names(config)
    return AppProject(
        metadata=ObjectMeta(name=project, namespace=namespace, labels=labels),
        spec=AppProjectSpec(
            description=f"app-of-apps root of the {config.environment} environment (Applications only)",
            source_repos=[config.config_repo.url],
            destinations=[ApplicationDestination(namespace=namespace)],
            cluster_resource_whitelist=[],
            namespace_resource_whitelist=[GroupKind(group="argoproj.io", kind="Application")],
            sync_windows=sync_windows(config)))


def root_application(config: PlatformConfig, namespace: str, labels: dict[str, str]) -> Application:
    project, name = root_names(config)
    path = config.argocd.app_of_apps.path
    return Application(
        metadata=ObjectMeta(
            name=name, namespace=namespace, labels=labels,
            annotations={MANIFEST_GENERATE_PATHS: "/" + path},
            finalizers=[RESOURCES_FINALIZER] if config.argocd.cascade_delete else None),
        spec=ApplicationSpec(
            project=project,
            source=ApplicationSource(repo_url=config.config_repo.url,
                                     target_revision=config.config_repo.revision, path=path),
            destination=ApplicationDestination(namespace=namespace),
            # Same default as the apps: automatic outside prod, a person syncs the root in prod.
            sync_policy=sync_policy("manual" if config.is_prod else "auto")))


class ArgoApplications(pulumi.ComponentResource):
    """One AppProject, one Application per app, the deployer and UI roles and, per app namespace, two
    RoleBindings (the application controller to the deployer role, the server to the UI role), the config
    repo credentials Secret when a token or SSH key is set, and the optional app-of-apps root (with its own
    project).

    Outputs: `project` (the AppProject name), `applications` (app name -> Application name).
    """

    def __init__(self, name: str, args: ArgoApplicationsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:argocd:ArgoApplications", name, None, opts)
        config = args.config
        ns = args.namespace
        labels = {**LABELS, "gitops-platform/environment": config.environment}
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        crd_deps: list[pulumi.Resource] = [args.install]
        self.repo_secret = self._repo_secret(name, args, labels, child)
        # Applications also wait for the credentials, so their first fetch of a private repo succeeds.
        source_deps = [*crd_deps, *([self.repo_secret] if self.repo_secret is not None else [])]

        # Write access only inside the app namespaces, each identity with only what it does there: the
        # controller deploys (the deployer role), the server acts from the UI (the UI role).
        roles = self._roles(name, config, labels, child)
        controller, server = args.service_accounts
        self.role_bindings: dict[str, list[k8s.rbac.v1.RoleBinding]] = {}
        for app_ns in config.app_namespaces:
            self.role_bindings[app_ns] = [
                k8s.rbac.v1.RoleBinding(
                    f"{name}-rb-{binding}-{app_ns}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=binding, namespace=app_ns, labels=labels),
                    role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                                     name=role),
                    subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=account, namespace=ns)],
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                        depends_on=[args.namespaces[app_ns], *roles])))
                for binding, role, account in ((DEPLOYER_BINDING, DEPLOYER_ROLE, controller),
                                               (SERVER_BINDING, SERVER_ROLE, server))]

        self.project = custom_resource(
            f"{name}-project", app_project(config, ns, labels),
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=crd_deps)))

        # Each Application also waits for its namespace and RoleBinding, so on destroy it goes first
        # and the controller can still delete (cascadeDelete) what it deployed there.
        self.applications: dict[str, pulumi.Resource] = {}
        for app in config.apps:
            app_ns = config.namespace_of(app)
            self.applications[app.name] = custom_resource(
                f"{name}-app-{app.name}", application(config, app, ns, labels),
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[
                    *source_deps, self.project, args.namespaces[app_ns], *self.role_bindings[app_ns], *args.after])))

        self.root_project = self.root_application = None
        if config.argocd.app_of_apps.enabled:
            self.root_project = custom_resource(
                f"{name}-root-project", root_project(config, ns, labels),
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=crd_deps)))
            self.root_application = custom_resource(
                f"{name}-root-app", root_application(config, ns, labels),
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                    depends_on=[*source_deps, self.root_project, self.project])))

        self.register_outputs({"project": config.argocd_project,
                               "applications": {a.name: a.name for a in config.apps}})

    @staticmethod
    def _roles(name: str, config: PlatformConfig, labels: dict[str, str],
               child: pulumi.ResourceOptions) -> list[k8s.rbac.v1.ClusterRole]:
        """The deployer role (aggregated: `admin`'s rules plus the extra kinds) and the UI role."""
        extra = [*DEPLOYER_EXTRA_RULES, *({"apiGroups": r.api_groups, "resources": r.resources, "verbs": list(r.verbs)}
                                          for r in config.argocd.deployer_rules)]
        return [
            k8s.rbac.v1.ClusterRole(
                f"{name}-deployer-role", metadata=k8s.meta.v1.ObjectMetaArgs(name=DEPLOYER_ROLE, labels=labels),
                aggregation_rule=k8s.rbac.v1.AggregationRuleArgs(cluster_role_selectors=[
                    k8s.meta.v1.LabelSelectorArgs(match_labels={"rbac.authorization.k8s.io/aggregate-to-admin": "true"}),
                    k8s.meta.v1.LabelSelectorArgs(match_labels={AGGREGATE_TO_DEPLOYER: "true"})]),
                opts=child),
            k8s.rbac.v1.ClusterRole(
                f"{name}-deployer-extra-role",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=DEPLOYER_EXTRA_ROLE,
                                                    labels={**labels, AGGREGATE_TO_DEPLOYER: "true"}),
                rules=extra, opts=child),
            k8s.rbac.v1.ClusterRole(
                f"{name}-server-role", metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVER_ROLE, labels=labels),
                rules=SERVER_RULES, opts=child),
        ]

    @staticmethod
    def _repo_secret(name: str, args: ArgoApplicationsArgs, labels: dict[str, str],
                     child: pulumi.ResourceOptions) -> k8s.core.v1.Secret | None:
        """Argo CD's declarative repository Secret for the config repo; public repos need none."""
        repo = args.config.config_repo
        if repo_is_ssh(repo.url):
            if args.git_ssh_private_key is None:
                return None
            credentials = {"sshPrivateKey": pulumi.Output.secret(args.git_ssh_private_key)}
        else:
            if args.git_token is None:
                return None
            credentials = {"username": repo.username, "password": pulumi.Output.secret(args.git_token)}
        return k8s.core.v1.Secret(
            f"{name}-repo-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=REPO_SECRET, namespace=args.namespace,
                labels={**labels, "argocd.argoproj.io/secret-type": "repository"}),
            type="Opaque",
            string_data={"type": "git", "url": repo.url, **credentials},
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[args.argocd_namespace])))
