"""Flux image automation: Flux bumps image tags in the config repo by policy; Argo CD keeps syncing.

`FluxInstall` installs only the Flux controllers image automation needs (source, image-reflector,
image-automation and notification controllers; kustomize and helm controllers only with `flux.sync: true`)
from the controllers' own pinned release assets. `FluxImageAutomation` adds the objects that drive it:
the config repo's GitRepository, one ImageRepository per image, one ImagePolicy per app, one
ImageUpdateAutomation for the environment and a webhook Receiver.
"""
from __future__ import annotations

import copy
import hashlib
import posixpath
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import PlatformConfig, repo_host, repo_is_ssh
from components.models import LABELS, ObjectMeta, custom_resource, pod_security
from components.models.flux import (
    CheckoutSpec,
    CommitAuthor,
    CommitSpec,
    GitRef,
    GitRepository,
    GitRepositorySpec,
    GitUpdateSpec,
    ImagePolicy,
    ImagePolicyChoice,
    ImagePolicySpec,
    ImageRepository,
    ImageRepositorySpec,
    ImageUpdateAutomation,
    ImageUpdateAutomationSpec,
    LocalRef,
    NamespacedRef,
    OrderPolicy,
    PushSpec,
    Receiver,
    ReceiverResource,
    ReceiverSpec,
    SemVerPolicy,
    SourceRef,
    TagFilter,
    UpdateStrategy,
)
from components.registry import docker_config_json, registry_host
from components.versions import Versions

NAMESPACE = "flux-system"
IMAGE_CONTROLLERS = ("source-controller", "image-reflector-controller", "image-automation-controller",
                     "notification-controller")
SYNC_CONTROLLERS = ("kustomize-controller", "helm-controller")
# Every controller but the notification controller reports its events to the notification controller.
EVENTS_ADDR = f"--events-addr=http://notification-controller.{NAMESPACE}.svc.cluster.local./"
# notification-controller's Service in front of its webhook port (from its release manifest).
RECEIVER_SERVICE = "webhook-receiver"
GIT_REPOSITORY = "gitops-config"
GIT_SECRET = "gitops-config-auth"
REGISTRY_SECRET = "gitops-registry-auth"
WEBHOOK_SECRET = "gitops-webhook-token"
AUTOMATION = "gitops-images"
RECEIVER = "gitops-webhook"
IMAGE_REPOSITORY_LABEL = "gitops-platform/image-repository"

# Flux's own `crd-controller` ClusterRole (fluxcd/flux2 manifests/rbac/controller.yaml) narrowed to the
# API groups of the controllers installed here. Flux's install also binds cluster-admin to the kustomize
# and helm controllers; this platform never does (see `FluxInstall`).
CONTROLLER_RULES = [
    {"apiGroups": [""], "resources": ["namespaces", "secrets", "configmaps", "serviceaccounts"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    # leader election
    {"apiGroups": [""], "resources": ["configmaps"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["configmaps/status"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    # Not `serviceaccounts/token create` (flux2@v2.9.4 manifests/rbac/controller.yaml grants it): it is for
    # object-level workload identity only (an object's spec.serviceAccountName with a cloud `provider`,
    # behind the ObjectLevelWorkloadIdentity feature gate), which no object here uses; with it, a
    # controller could mint a token for any ServiceAccount in the cluster.
    {"nonResourceURLs": ["/livez/ping"], "verbs": ["head"]},
]
CONTROLLER_GROUPS = ["source.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "notification.toolkit.fluxcd.io"]
SYNC_GROUPS = ["kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"]


def controller_versions(versions: Versions, sync: bool) -> dict[str, str]:
    """The controllers to install, each with its pinned release."""
    chosen = {
        "source-controller": versions.flux_source_controller,
        "image-reflector-controller": versions.flux_image_reflector_controller,
        "image-automation-controller": versions.flux_image_automation_controller,
        "notification-controller": versions.flux_notification_controller,
    }
    if sync:
        chosen["kustomize-controller"] = versions.flux_kustomize_controller
        chosen["helm-controller"] = versions.flux_helm_controller
    return chosen


def release_asset(versions: Versions, controller: str, version: str, asset: str) -> str:
    """URL of a controller's release asset (`crds` or `deployment`), as fluxcd/flux2 manifests/bases use."""
    return f"{versions.flux_release_base}/{controller}/releases/download/{version}/{controller}.{asset}.yaml"


def place_controller_object(props: dict[str, Any]) -> dict[str, Any] | None:
    """What fluxcd/flux2 `manifests/bases/<controller>` and `manifests/install` add to a controller's
    `deployment.yaml` release asset (which carries no namespace, ServiceAccount or events address):
    the flux-system namespace, the controller's own ServiceAccount, `--events-addr`, GOMEMLIMIT and the
    ghcr.io image. Returns the new props, or None for objects left as they are (the CRDs)."""
    if props.get("kind") not in ("Deployment", "Service"):
        return None
    props = copy.deepcopy(dict(props))
    metadata = dict(props.get("metadata") or {})
    metadata["namespace"] = NAMESPACE
    metadata["labels"] = {**(metadata.get("labels") or {}), "app.kubernetes.io/part-of": "flux",
                          "app.kubernetes.io/instance": NAMESPACE, **LABELS}
    props["metadata"] = metadata
    if props["kind"] == "Deployment":
        controller = metadata.get("name", "")
        pod = props["spec"]["template"]["spec"]
        pod["serviceAccountName"] = controller
        manager = pod["containers"][0]
        args = list(manager.get("args") or [])
        if controller != "notification-controller" and not any(a.startswith("--events-addr") for a in args):
            args.insert(0, EVENTS_ADDR)
        manager["args"] = args
        env = list(manager.get("env") or [])
        if not any(e.get("name") == "GOMEMLIMIT" for e in env):
            env.append({"name": "GOMEMLIMIT", "valueFrom": {"resourceFieldRef": {
                "containerName": manager.get("name", "manager"), "resource": "limits.memory"}}})
        manager["env"] = env
        image = manager.get("image", "")
        if image.startswith("fluxcd/"):
            manager["image"] = "ghcr.io/" + image
    return props


def _place_in_flux_system(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    placed = place_controller_object(args.props)
    return None if placed is None else pulumi.ResourceTransformResult(props=placed, opts=args.opts)


@dataclass(frozen=True)
class FluxInstallArgs:
    versions: Versions
    sync: bool
    provider: k8s.Provider
    app_namespaces: dict[str, k8s.core.v1.Namespace]
    protect: bool = False


class FluxInstall(pulumi.ComponentResource):
    """The flux-system namespace, one ServiceAccount per controller, a ClusterRole scoped to Flux's own API
    groups, and the controllers' CRDs and Deployments from their pinned release assets (fetched by the
    Kubernetes provider at deploy time; nothing is downloaded to render). With `sync`, the kustomize and
    helm controllers too, allowed to apply only inside the app namespaces (RoleBindings to `admin`).
    Outputs: namespace, controllers."""

    def __init__(self, name: str, args: FluxInstallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:flux:FluxInstall", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.controllers = controller_versions(args.versions, args.sync)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            # The controllers' release manifests pass `restricted` (seccompProfile RuntimeDefault, non-root,
            # read-only root, no capabilities).
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels={**LABELS, **pod_security("restricted")}),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(protect=args.protect)))
        in_namespace = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[self.namespace]))
        accounts = [
            k8s.core.v1.ServiceAccount(
                f"{name}-sa-{controller}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=controller, namespace=NAMESPACE, labels=LABELS),
                opts=in_namespace)
            for controller in self.controllers
        ]
        groups = CONTROLLER_GROUPS + (SYNC_GROUPS if args.sync else [])
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-controller-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="gitops-flux-controller", labels=LABELS),
            rules=[{"apiGroups": groups, "resources": ["*"], "verbs": ["*"]}, *CONTROLLER_RULES],
            opts=on_cluster)
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-controller-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="gitops-flux-controller", labels=LABELS),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                             name="gitops-flux-controller"),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=c, namespace=NAMESPACE)
                      for c in self.controllers],
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[role, *accounts])))
        sync_bindings = []
        if args.sync:
            # Flux's install binds cluster-admin to these two; here they may apply only in app namespaces.
            for ns, namespace in args.app_namespaces.items():
                sync_bindings.append(k8s.rbac.v1.RoleBinding(
                    f"{name}-sync-{ns}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name="gitops-flux-sync", namespace=ns, labels=LABELS),
                    role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                                     name="admin"),
                    subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=c, namespace=NAMESPACE)
                              for c in SYNC_CONTROLLERS],
                    opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[namespace]))))
        self.crds = k8s.yaml.v2.ConfigGroup(
            f"{name}-crds",
            files=[release_asset(args.versions, c, v, "crds") for c, v in self.controllers.items()],
            opts=on_cluster)
        # The deployment assets carry no namespace: the transform places them in flux-system and gives each
        # controller its ServiceAccount, as Flux's own kustomize bases do.
        self.controllers_group = k8s.yaml.v2.ConfigGroup(
            f"{name}-controllers",
            files=[release_asset(args.versions, c, v, "deployment") for c, v in self.controllers.items()],
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                depends_on=[self.namespace, self.crds, binding, *accounts, *sync_bindings],
                transforms=[_place_in_flux_system])))
        self.ready = [self.crds, self.controllers_group]
        self.register_outputs({"namespace": NAMESPACE, "controllers": list(self.controllers)})


# ---------------------------------------------------------------- the automation objects
def image_host(image: str) -> str:
    """Registry host of an image repository (`docker.io` for Docker Hub short names)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def receiver_type(config: PlatformConfig) -> str:
    """The Receiver type matching the registry that sends the push webhooks."""
    if config.flux.receiver_type:
        return config.flux.receiver_type
    server = config.registry.server
    if server in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "dockerhub"
    if server == "quay.io":
        return "quay"
    if server == "ghcr.io":
        return "github"  # GitHub sends "package" events for GHCR pushes, signed with the token
    if server.endswith(".azurecr.io"):
        return "acr"
    if server == "gcr.io" or server.endswith(".gcr.io") or server.endswith("-docker.pkg.dev"):
        return "gcr"
    return "generic"


def policy_name(config: PlatformConfig, app) -> str:
    """ImagePolicy name, environment-qualified so that a marker in one overlay never matches another
    environment's policy even when the automation's path is the repository root."""
    return f"{app.name}-{config.environment}"


def update_path(config: PlatformConfig) -> str:
    """The deepest directory holding every app's overlay (`./` when they only share the repo root)."""
    paths = [config.path_of(app) for app in config.apps if app.image_policy is not None]
    common = posixpath.commonpath(paths) if paths else ""
    return "./" + common if common not in ("", ".") else "./"


def flux_repo_url(url: str) -> str:
    """Flux takes http(s):// and ssh:// URLs only: git@host:org/repo becomes ssh://git@host/org/repo."""
    if "://" in url:
        return url
    user_host, _, path = url.partition(":")
    return f"ssh://{user_host}/{path}"


def webhook_path(token: str) -> str:
    """notification-controller's Receiver path: /hook/ + sha256(token + name + namespace)."""
    return "/hook/" + hashlib.sha256((token + RECEIVER + NAMESPACE).encode()).hexdigest()


COMMIT_TEMPLATE = (
    "Flux: update images in {{ .Values.environment }}\n\n"
    "{{ range .Changed.Changes -}}\n"
    "- {{ .Setter }}: {{ .OldValue }} -> {{ .NewValue }}\n"
    "{{ end -}}\n"
)


@dataclass(frozen=True)
class FluxImageAutomationArgs:
    config: PlatformConfig
    provider: k8s.Provider
    app_namespaces: dict[str, k8s.core.v1.Namespace]
    git_token: pulumi.Output[str] | None = None
    git_ssh_private_key: pulumi.Output[str] | None = None
    registry_password: pulumi.Output[str] | None = None
    webhook_token: pulumi.Output[str] | None = None   # generated when None
    public_base: str | None = None    # https://hooks.<domain> when the platform Gateway serves the Receiver


class FluxImageAutomation(pulumi.ComponentResource):
    """Flux (see `FluxInstall`) plus the GitRepository of the config repo with its credentials Secret, one
    ImageRepository per app image (registry credentials when set), one ImagePolicy per app, one
    ImageUpdateAutomation (Setters strategy) over the environment's paths and a webhook Receiver.
    Outputs: webhook_url, webhook_token (secret), webhook_path_command, policies."""

    def __init__(self, name: str, args: FluxImageAutomationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:flux:FluxImageAutomation", name, None, opts)
        cfg = args.config
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.install = FluxInstall(
            f"{name}-install",
            FluxInstallArgs(versions=cfg.versions, sync=cfg.flux.sync, provider=args.provider,
                            app_namespaces=args.app_namespaces, protect=cfg.protected),
            pulumi.ResourceOptions(parent=self))
        in_flux = pulumi.ResourceOptions.merge(
            on_cluster, pulumi.ResourceOptions(depends_on=[self.install.namespace]))
        # Flux objects go before the controllers that handle their finalizers, and after their CRDs.
        after_install = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
            depends_on=[self.install.namespace, *self.install.ready]))

        def meta(obj_name: str, **labels: str) -> ObjectMeta:
            return ObjectMeta(name=obj_name, namespace=NAMESPACE, labels={**LABELS, **labels})

        # ---- the config repo
        url = flux_repo_url(cfg.config_repo.url)
        git_secret = self._git_secret(name, cfg, args, in_flux)
        self.git_repository = custom_resource(f"{name}-git-repository", GitRepository(
            metadata=meta(GIT_REPOSITORY),
            spec=GitRepositorySpec(url=url, interval=cfg.flux.interval, ref=GitRef(branch=cfg.config_repo.revision),
                                   secret_ref=LocalRef(name=GIT_SECRET) if git_secret else None)),
            pulumi.ResourceOptions.merge(after_install, pulumi.ResourceOptions(
                depends_on=[git_secret] if git_secret else [])))

        # ---- images and policies
        registry_secret = None
        if cfg.registry.username and args.registry_password is not None:
            registry_secret = k8s.core.v1.Secret(
                f"{name}-registry-auth",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=REGISTRY_SECRET, namespace=NAMESPACE, labels=LABELS),
                type="kubernetes.io/dockerconfigjson",
                string_data={".dockerconfigjson": pulumi.Output.secret(args.registry_password).apply(
                    lambda password: docker_config_json(cfg.registry.server, cfg.registry.username, password))},
                opts=in_flux)
        repositories: dict[str, str] = {}  # image -> ImageRepository name
        self.image_repositories = []
        self.image_policies = []
        for app in cfg.apps:
            if app.image_policy is None:
                continue
            if app.image not in repositories:
                repositories[app.image] = app.name
                authenticated = registry_secret is not None and image_host(app.image) == registry_host(cfg.registry.server)
                self.image_repositories.append(custom_resource(f"{name}-imagerepo-{app.name}", ImageRepository(
                    metadata=meta(app.name, **{IMAGE_REPOSITORY_LABEL: "true"}),
                    spec=ImageRepositorySpec(image=app.image, interval=cfg.flux.interval,
                                             secret_ref=LocalRef(name=REGISTRY_SECRET) if authenticated else None)),
                    pulumi.ResourceOptions.merge(after_install, pulumi.ResourceOptions(
                        depends_on=[registry_secret] if authenticated else []))))
            self.image_policies.append(custom_resource(
                f"{name}-imagepolicy-{app.name}",
                ImagePolicy(metadata=meta(policy_name(cfg, app)),
                            spec=_policy_spec(app.image_policy, repositories[app.image])),
                after_install))

        # ---- the automation: one object for the whole environment
        branch = cfg.config_repo.revision
        self.automation = custom_resource(f"{name}-automation", ImageUpdateAutomation(
            metadata=meta(AUTOMATION),
            spec=ImageUpdateAutomationSpec(
                interval=cfg.flux.interval,
                source_ref=SourceRef(name=GIT_REPOSITORY),
                git=GitUpdateSpec(
                    checkout=CheckoutSpec(ref=GitRef(branch=branch)),
                    commit=CommitSpec(author=CommitAuthor(name=cfg.flux.git_author_name,
                                                          email=cfg.flux.git_author_email),
                                      message_template=COMMIT_TEMPLATE,
                                      message_template_values={"environment": cfg.environment}),
                    push=PushSpec(branch=cfg.flux.push_branch or branch)),
                update=UpdateStrategy(path=update_path(cfg)))),
            pulumi.ResourceOptions.merge(after_install, pulumi.ResourceOptions(depends_on=[self.git_repository])))

        # ---- webhook Receiver: registry (or GitHub) pushes trigger a scan now, not at the next interval
        token = args.webhook_token
        if token is None:
            generated = random.RandomPassword(f"{name}-webhook-token", length=40, special=False,
                                              opts=pulumi.ResourceOptions(parent=self))
            token = generated.result
        self.webhook_token = pulumi.Output.secret(token)
        webhook_secret = k8s.core.v1.Secret(
            f"{name}-webhook-token-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=WEBHOOK_SECRET, namespace=NAMESPACE, labels=LABELS),
            string_data={"token": self.webhook_token},
            opts=in_flux)
        self.receiver = custom_resource(f"{name}-receiver", Receiver(
            metadata=meta(RECEIVER),
            spec=ReceiverSpec(
                type=receiver_type(cfg),
                secret_ref=LocalRef(name=WEBHOOK_SECRET),
                resources=[
                    ReceiverResource(api_version="image.toolkit.fluxcd.io/v1", kind="ImageRepository", name="*",
                                     match_labels={IMAGE_REPOSITORY_LABEL: "true"}),
                    ReceiverResource(api_version="source.toolkit.fluxcd.io/v1", kind="GitRepository",
                                     name=GIT_REPOSITORY),
                ])),
            pulumi.ResourceOptions.merge(after_install, pulumi.ResourceOptions(depends_on=[webhook_secret])))
        # The path is a one-way digest of the token (it does not reveal it), so the URL is not a secret.
        # The path is derived from the token, and for most Receiver types it is the only credential: the
        # URL stays a secret.
        base = args.public_base or f"http://{RECEIVER_SERVICE}.{NAMESPACE}.svc.cluster.local"
        self.webhook_url = pulumi.Output.secret(self.webhook_token.apply(lambda t: f"{base}{webhook_path(t)}"))
        self.webhook_path_command = (f"kubectl -n {NAMESPACE} get receivers.notification.toolkit.fluxcd.io "
                                     f"{RECEIVER} -o jsonpath='{{.status.webhookPath}}'")
        self.policies = {app.name: f"{NAMESPACE}:{policy_name(cfg, app)}" for app in cfg.apps if app.image_policy}
        self.register_outputs({"webhook_url": self.webhook_url, "webhook_token": self.webhook_token,
                               "webhook_path_command": self.webhook_path_command, "policies": self.policies})

    @staticmethod
    def _git_secret(name: str, cfg: PlatformConfig, args: FluxImageAutomationArgs,
                    opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret | None:
        """Credentials the source and image-automation controllers use to clone and push."""
        if repo_is_ssh(cfg.config_repo.url):
            if args.git_ssh_private_key is None:
                pulumi.log.warn("configRepo.url is ssh but gitSshPrivateKey is not set: Flux cannot push image "
                                "updates until it is (pulumi config set --secret gitSshPrivateKey < key)")
                return None
            known_hosts = cfg.flux.ssh_known_hosts or cfg.tekton.ssh_known_hosts or ""
            data: dict[str, Any] = {"identity": pulumi.Output.secret(args.git_ssh_private_key),
                                    "known_hosts": known_hosts}
        else:
            if args.git_token is None:
                pulumi.log.warn(f"gitToken is not set: Flux can read {repo_host(cfg.config_repo.url)} only if the "
                                "repository is public, and cannot push image updates")
                return None
            data = {"username": cfg.config_repo.username, "password": pulumi.Output.secret(args.git_token)}
        return k8s.core.v1.Secret(
            f"{name}-git-auth",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GIT_SECRET, namespace=NAMESPACE, labels=LABELS),
            string_data=data, opts=opts)


def _policy_spec(policy, repository: str) -> ImagePolicySpec:
    if policy.semver:
        choice = ImagePolicyChoice(semver=SemVerPolicy(range=policy.semver))
        tag_filter = None
    else:
        ordering = OrderPolicy(order=policy.direction)
        choice = ImagePolicyChoice(**{policy.order: ordering})
        tag_filter = TagFilter(pattern=policy.pattern, extract=policy.extract)
    return ImagePolicySpec(image_repository_ref=NamespacedRef(name=repository), policy=choice,
                           filter_tags=tag_filter)
