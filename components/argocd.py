"""Argo CD from the official argo-cd Helm chart, pinned in the versions table."""
from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import ArgoCDConfig
from components.models import HELM_TIMEOUT, LABELS, pod_security
from components.versions import Versions

NAMESPACE = "argocd"
RELEASE = "argocd"
# The chart names its objects after the release ("argocd" + component); the controller's
# ServiceAccount name is also set explicitly in the values so RoleBindings and chart agree.
CONTROLLER_SERVICE_ACCOUNT = "argocd-application-controller"
SERVER_SERVICE_ACCOUNT = "argocd-server"
SERVER_SERVICE = "argocd-server"
INITIAL_ADMIN_SECRET = "argocd-initial-admin-secret"
ADMIN_USER = "admin"
PORT_FORWARD_LOCAL_PORT = 8080

# The chart's default controller ClusterRole is `*` on `*` plus every non-resource URL: cluster-admin.
# Argo CD's cluster cache lists and watches every kind cluster-wide (gitops-engine pkg/cache/cluster.go,
# vendored in argo-cd@v3.4.4: a pager List then a Watch per API resource), so the controller keeps `list`
# and `watch` everywhere; writes (and the `get` of kubectl apply) come only from the per-namespace
# RoleBindings that `ArgoApplications` creates. No cluster-wide `get`: RBAC's `*` resource matches every
# subresource too, and `get nodes/proxy` reaches each kubelet's API (exec included) and `get
# services/proxy` any Service in the cluster; `list`/`watch` never authorize a proxy request (the proxy
# subresources map GET to the `get` verb). No namespace writes: the platform creates the namespaces
# (CreateNamespace would be a no-op, argo-cd controller/sync_namespace.go), and a cluster-wide `patch` on
# namespaces would let the controller relabel any of them, kube-system's Pod Security labels included.
CONTROLLER_CLUSTER_RULES = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["list", "watch"]},
    {"nonResourceURLs": ["*"], "verbs": ["get"]},
]
# The chart's default server ClusterRole adds get/patch/delete on `*` for the UI's "delete resource" and
# `argocd app patch`, which would reach every namespace, and `get` on `*` (nodes/proxy included). What
# the UI reads of a live resource, its pods' logs and its actions are all in app namespaces, where a
# RoleBinding to the platform's UI role grants them (`ArgoApplications`); cluster-wide the server only
# needs Argo CD's own objects and events (argo-cd@v3.4.4 server/application/application.go reads live
# objects of an Application's destination namespace; pods/exec only with exec.enabled, which stays off).
SERVER_CLUSTER_RULES = [
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "create"]},
    {"apiGroups": ["argoproj.io"], "resources": ["applications", "applicationsets"],
     "verbs": ["get", "list", "update", "watch"]},
]


# Requests per chart component (argo-cd chart values keys), sized for a small cluster; no limits: the
# controller and repo server grow with the number of apps and manifests, and a limit would OOM-kill them.
REQUESTS = {
    "controller": {"cpu": "100m", "memory": "256Mi"},
    "server": {"cpu": "50m", "memory": "128Mi"},
    "repoServer": {"cpu": "50m", "memory": "128Mi"},
    "redis": {"cpu": "20m", "memory": "64Mi"},
    "applicationSet": {"cpu": "20m", "memory": "64Mi"},
    "notifications": {"cpu": "10m", "memory": "64Mi"},
    "redisSecretInit": {"cpu": "10m", "memory": "32Mi"},
}


@dataclass(frozen=True)
class ArgoCDArgs:
    """What the install needs: its config section, the pinned versions, how the cluster is reached."""

    argocd: ArgoCDConfig
    versions: Versions
    provider: k8s.Provider
    on_kind: bool = False
    node_port: int = 30080            # the NodePort kind maps to `host_port`
    https_node_port: int = 30081      # the chart's HTTPS port's NodePort (set: its default is 30443)
    host_port: int = 8080             # the port on the user's machine (kind only)
    protect: bool = False
    webhook_secret: pulumi.Output[str] | None = None  # generated when None and the webhook is on
    public_url: str | None = None     # https://argocd.<domain> when the platform Gateway serves Argo CD


def chart_values(args: ArgoCDArgs, url: str, webhook_secret: pulumi.Output[str] | None) -> dict:
    """Helm values for the argo-cd chart (keys from argo-helm charts/argo-cd/values.yaml)."""
    cfg = args.argocd
    values: dict = {
        # Every Argo CD image is "repository:tag" of these (templates/_common.tpl argo-cd.defaultTag), so a
        # tag@sha256: pins it by digest; Redis the same (templates/redis/deployment.yaml).
        "global": {"image": args.versions.chart_image("chart_image_argocd")},
        # Local admin only; SSO through Dex is added by whoever configures an identity provider.
        "dex": {"enabled": False},
        "configs": {
            "cm": {"url": url, "timeout.reconciliation": cfg.reconciliation},
            "params": {},
        },
        "controller": {
            "serviceAccount": {"create": True, "name": CONTROLLER_SERVICE_ACCOUNT},
            "clusterRoleRules": {"enabled": True, "rules": CONTROLLER_CLUSTER_RULES},
        },
        "server": {
            "serviceAccount": {"create": True, "name": SERVER_SERVICE_ACCOUNT},
            "clusterRoleRules": {"enabled": True, "rules": SERVER_CLUSTER_RULES},
            "service": {"type": "ClusterIP"},
        },
        # Redis never calls the Kubernetes API; the chart mounts a token into it by default.
        "redis": {"automountServiceAccountToken": False, "image": args.versions.chart_image("chart_image_argocd_redis")},
    }
    # The chart sets no requests on any pod (every `*.resources` is {}), so the scheduler packs them
    # blindly and they are the first evicted under pressure.
    for component, requests in REQUESTS.items():
        values.setdefault(component, {})["resources"] = {"requests": requests}
    if args.on_kind:
        # kind maps the host port to this NodePort; TLS is off so http://localhost:<port> works
        # without a certificate on a cluster that only listens on 127.0.0.1.
        values["server"]["service"].update(type="NodePort", nodePortHttp=args.node_port,
                                          nodePortHttps=args.https_node_port)
    if args.on_kind or args.public_url:
        # Behind the Gateway, which terminates TLS, the server must serve plain HTTP: with its own TLS it
        # would redirect every HTTP request to HTTPS, and the Gateway's HTTP backend would loop
        # (argo-cd docs operator-manual/ingress.md, "Disable internal TLS"; configs.params server.insecure).
        values["configs"]["params"]["server.insecure"] = True
    if webhook_secret is not None:
        # Gitea's deliveries carry X-Gogs-Event, which Argo CD checks first and verifies against the Gogs
        # secret (argo-cd@v3.4.4 util/webhook/webhook.go); with only the GitHub secret set they would be
        # taken unverified. The same secret for both.
        values["configs"]["secret"] = {"githubSecret": webhook_secret, "gogsSecret": webhook_secret}
    if cfg.ha:
        # The chart's "HA mode without autoscaling" (needs three nodes for redis-ha's anti-affinity).
        values["redis-ha"] = {"enabled": True}
        values["controller"]["replicas"] = 1
        values["server"]["replicas"] = 2
        values["repoServer"]["replicas"] = 2
        values["applicationSet"]["replicas"] = 2
    return values


class ArgoCD(pulumi.ComponentResource):
    """Installs Argo CD (namespace `argocd`, Helm chart pinned in the versions table), with the
    application controller limited to cluster-wide read access and a GitHub webhook secret.

    Outputs: `url`, `admin_user`, `admin_password` (secret, read from the chart's
    `argocd-initial-admin-secret`), `port_forward` (None on kind), `webhook_url` and
    `webhook_secret` (secret; both None when the webhook is off). `release` is what every Argo CD
    custom resource depends on; `namespace` and `service_accounts` (controller, server) say who needs
    write access in the app namespaces.
    """

    def __init__(self, name: str, args: ArgoCDArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:argocd:ArgoCD", name, None, opts)
        cfg = args.argocd
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.controller_service_account = CONTROLLER_SERVICE_ACCOUNT
        self.service_accounts = (CONTROLLER_SERVICE_ACCOUNT, SERVER_SERVICE_ACCOUNT)
        self.admin_user = ADMIN_USER

        if cfg.external_url:
            self.url = cfg.external_url
            self.port_forward = None
        elif args.public_url:
            self.url = args.public_url
            self.port_forward = None
        elif args.on_kind:
            self.url = f"http://localhost:{args.host_port}"
            self.port_forward = None
        else:
            self.url = f"https://localhost:{PORT_FORWARD_LOCAL_PORT}"
            self.port_forward = (f"kubectl port-forward svc/{SERVER_SERVICE} -n {NAMESPACE} "
                                 f"{PORT_FORWARD_LOCAL_PORT}:443")

        # Where the pipeline posts its push events: the server Service inside the cluster, plain HTTP
        # when the server runs without TLS (server.insecure), else its self-signed HTTPS port
        # (argo-helm@argo-cd-10.1.1 charts/argo-cd/templates/argocd-server/service.yaml: ports 80 and 443).
        scheme = "http" if args.on_kind or args.public_url else "https"
        self.in_cluster_webhook_url = f"{scheme}://{SERVER_SERVICE}.{NAMESPACE}.svc.cluster.local/api/webhook"
        self.webhook_secret: pulumi.Output[str] | None = None
        self.webhook_url: str | None = None
        if cfg.webhook:
            if args.webhook_secret is not None:
                secret = args.webhook_secret
            else:
                secret = random.RandomPassword(
                    f"{name}-webhook-secret", length=40, special=False,
                    opts=pulumi.ResourceOptions(parent=self)).result
            self.webhook_secret = pulumi.Output.secret(secret)
            # Only a URL a Git server can reach: the public one, or the one of the user's own ingress.
            if cfg.external_url or args.public_url:
                self.webhook_url = f"{self.url}/api/webhook"

        self.namespace_resource = k8s.core.v1.Namespace(
            f"{name}-ns",
            # Every container of the chart's defaults passes `restricted` (values.yaml: runAsNonRoot,
            # seccompProfile RuntimeDefault, no privilege escalation, capabilities dropped); in HA mode the
            # chart gives redis-ha's and HAProxy's containers only readOnlyRootFilesystem, so `baseline`.
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels={
                **LABELS, **pod_security("baseline" if cfg.ha else "restricted")}),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect)))
        self.namespace = NAMESPACE

        versions = args.versions
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            timeout=HELM_TIMEOUT,
            name=RELEASE,
            chart=versions.argocd_chart,
            version=versions.argocd_chart_version,
            repository_opts=versions.repository_opts(versions.argocd_chart_repo),
            namespace=self.namespace_resource.metadata.name,
            values=chart_values(args, self.url, self.webhook_secret),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.namespace_resource])))

        # Argo CD's server writes this Secret on first start; the id is only known once the release is
        # deployed, so a preview never reads it before it exists.
        admin_secret = k8s.core.v1.Secret.get(
            f"{name}-initial-admin-secret",
            self.release.status.apply(lambda status: f"{status.namespace}/{INITIAL_ADMIN_SECRET}"),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.release])))
        self.admin_password = pulumi.Output.secret(
            admin_secret.data.apply(lambda data: base64.b64decode(data["password"]).decode()))

        self.register_outputs({
            "url": self.url, "adminUser": self.admin_user, "adminPassword": self.admin_password,
            "portForward": self.port_forward, "webhookUrl": self.webhook_url,
            "webhookSecret": self.webhook_secret,
        })
