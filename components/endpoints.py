"""The platform's public endpoints: routes on the platform Gateway for the Argo CD UI and webhook, Tekton's
EventListener and Flux's Receiver (rate-limited), the webhook relay for clusters nothing can reach, and the
`webhooks` stack output that says where to register each URL.

With `gateway.domain` set: `https://argocd.<domain>/` (UI and API) and `/api/webhook`,
`https://hooks.<domain>/tekton` (the EventListener; the prefix is stripped) and
`https://hooks.<domain>/hook/<id>` (the Receiver's own path). Each route lives in the namespace of the
Service it sends to (no ReferenceGrant), and the Gateway's listener for its hostname admits only that
namespace.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import gateway as gw
from components.config import PlatformConfig
from components.flux import NAMESPACE as FLUX_NAMESPACE
from components.flux import RECEIVER_SERVICE, receiver_type
from components.models import LABELS, ObjectMeta, custom_resource
from components.models.gateway import (
    BackendRef,
    BackendTrafficPolicy,
    BackendTrafficPolicySpec,
    HTTPRoute,
    HTTPRouteSpec,
    LocalRateLimit,
    LocalRateLimitRule,
    PathMatch,
    PathRewrite,
    PolicyTargetRef,
    RateLimitSpec,
    RateLimitValue,
    RouteFilter,
    RouteMatch,
    RouteRule,
    URLRewrite,
)
from components.tekton.steps.api import web_url
from components.tekton.triggers import LISTENER, LISTENER_PORT, listener_url

ARGOCD_SERVICE, ARGOCD_HTTP_PORT = "argocd-server", 80   # argo-helm argo-cd-10.1.1 argocd-server Service
FLUX_RECEIVER_PORT = 80                                    # notification-controller's webhook-receiver Service
TEKTON_PREFIX = "/tekton"
# Local rate limits (Envoy Gateway BackendTrafficPolicy; no extra pod, unlike global limits). A push of
# many branches is a burst of a few events; a flood is refused with 429 before it reaches a controller.
HOOKS_PER_SECOND = 20
ARGOCD_WEBHOOK_PER_SECOND = 10
RELAY = "gitops-ci-relay"
RELAY_UID = 1001   # the gosmee image's USER (chmouel/gosmee Dockerfile)


def _route(name: str, namespace: str, section: str, host: str, prefix: str, service: str, port: int,
           rewrite: bool = False) -> HTTPRoute:
    return HTTPRoute(metadata=ObjectMeta(name=name, namespace=namespace, labels=LABELS), spec=HTTPRouteSpec(
        parent_refs=[gw.parent_ref(section)], hostnames=[host],
        rules=[RouteRule(matches=[RouteMatch(path=PathMatch(value=prefix))],
                         filters=[RouteFilter(url_rewrite=URLRewrite(path=PathRewrite(replace_prefix_match="/")))]
                         if rewrite else None,
                         backend_refs=[BackendRef(name=service, port=port)])]))


def routes(cfg: PlatformConfig, argocd_namespace: str = "argocd") -> list[HTTPRoute]:
    """Every route of the platform's endpoints (none without a domain)."""
    if cfg.public_domain is None:
        return []
    found = [
        _route("argocd-server", argocd_namespace, gw.ARGOCD_LISTENER, cfg.argocd_host, "/", ARGOCD_SERVICE,
               ARGOCD_HTTP_PORT),
        # The webhook path on a route of its own, so that it alone is rate-limited (the longest prefix wins).
        _route("argocd-webhook", argocd_namespace, gw.ARGOCD_LISTENER, cfg.argocd_host, "/api/webhook",
               ARGOCD_SERVICE, ARGOCD_HTTP_PORT),
    ]
    if cfg.tekton_enabled:
        found.append(_route("gitops-ci-webhook", cfg.tekton.namespace, gw.HOOKS_LISTENER, cfg.hooks_host,
                            TEKTON_PREFIX, f"el-{LISTENER}", LISTENER_PORT, rewrite=True))
    if cfg.flux_enabled:
        found.append(_route("flux-receiver", FLUX_NAMESPACE, gw.HOOKS_LISTENER, cfg.hooks_host, "/hook/",
                            RECEIVER_SERVICE, FLUX_RECEIVER_PORT))
    return found


def rate_limits(cfg: PlatformConfig, argocd_namespace: str = "argocd") -> list[BackendTrafficPolicy]:
    """Local rate limits where the implementation is Envoy Gateway: the hooks listener as a whole (a
    policy on a Gateway section covers every route on it) and Argo CD's webhook route."""
    if cfg.public_domain is None or not cfg.installs_envoy_gateway:
        return []

    def policy(name: str, namespace: str, target: PolicyTargetRef, per_second: int) -> BackendTrafficPolicy:
        return BackendTrafficPolicy(
            metadata=ObjectMeta(name=name, namespace=namespace, labels=LABELS),
            spec=BackendTrafficPolicySpec(target_refs=[target], rate_limit=RateLimitSpec(local=LocalRateLimit(
                rules=[LocalRateLimitRule(limit=RateLimitValue(requests=per_second, unit="Second"))]))))
    found = [policy("argocd-webhook", argocd_namespace, PolicyTargetRef(kind="HTTPRoute", name="argocd-webhook"),
                    ARGOCD_WEBHOOK_PER_SECOND)]
    if cfg.tekton_enabled or cfg.flux_enabled:
        found.append(policy("hooks", gw.NAMESPACE, PolicyTargetRef(kind="Gateway", name=gw.GATEWAY,
                                                                   section_name=gw.HOOKS_LISTENER),
                            HOOKS_PER_SECOND))
    return found


def scheme(cfg: PlatformConfig) -> str:
    return "https" if cfg.tls_enabled else "http"


def argocd_public_url(cfg: PlatformConfig) -> str | None:
    return f"{scheme(cfg)}://{cfg.argocd_host}" if cfg.public_domain else None


def tekton_public_url(cfg: PlatformConfig) -> str | None:
    return f"{scheme(cfg)}://{cfg.hooks_host}{TEKTON_PREFIX}" if cfg.public_domain and cfg.tekton_enabled else None


def flux_public_base(cfg: PlatformConfig) -> str | None:
    return f"{scheme(cfg)}://{cfg.hooks_host}" if cfg.public_domain and cfg.flux_enabled else None


UNREACHABLE = ("not reachable from outside the cluster: set gateway.domain (and gateway.tls) so the platform "
               "serves it on its Gateway, then point a DNS record for *.<domain> at the Gateway's address")


def git_webhook(repos: list[str], url: str, secret_output: str) -> dict:
    """How to register a push webhook on GitHub or Gitea (the same settings page and fields)."""
    return {"url": url, "secret": f"pulumi stack output {secret_output} --show-secrets",
            "contentType": "application/json", "events": "push",
            "register": [f"{web_url(repo)}/settings/hooks" for repo in repos]}


def webhooks_output(cfg: PlatformConfig, argocd_webhook: bool, argocd_external: str | None) -> dict:
    """What a person registers where, per receiver, or why it cannot be registered."""
    on_kind = cfg.cluster.provider == "kind"
    found: dict = {}
    argocd_base = argocd_external or argocd_public_url(cfg)
    if not argocd_webhook:
        found["argocd"] = "off (argocd.webhook: false): Argo CD finds commits by polling"
    elif argocd_base:
        found["argocd"] = git_webhook([cfg.config_repo.url], f"{argocd_base}/api/webhook", "argocdWebhookSecret")
    elif on_kind:
        found["argocd"] = ("not needed on kind: gitops-ci tells Argo CD about its commits itself; other commits "
                           "are found by polling")
    else:
        found["argocd"] = f"{UNREACHABLE} (until then gitops-ci tells Argo CD itself, other commits by polling)"
    if cfg.tekton_enabled:
        sources = list(dict.fromkeys(app.source_repo for app in cfg.apps if app.source_repo))
        if cfg.webhooks.relay:
            found["tekton"] = git_webhook(sources, cfg.webhooks.relay.url, "tektonWebhookSecret")
            found["tekton"]["via"] = f"the relay {RELAY} forwards the channel to {listener_url(cfg.tekton.namespace)}"
        elif tekton_public_url(cfg):
            found["tekton"] = git_webhook(sources, tekton_public_url(cfg), "tektonWebhookSecret")
        elif on_kind:
            found["tekton"] = (f"only inside the cluster ({listener_url(cfg.tekton.namespace)}): a Git server in "
                               "the cluster can deliver there; for GitHub set webhooks.relay.url to a "
                               "https://smee.io/<channel> and register the channel")
        else:
            found["tekton"] = f"{UNREACHABLE}, or set webhooks.relay.url"
    if cfg.flux_enabled:
        if flux_public_base(cfg):
            found["flux"] = {"url": "the fluxWebhookUrl output (secret: its path is derived from the token)",
                             "register": f"as a push notification of the registry repositories of "
                                         f"{', '.join(app.image for app in cfg.apps)} "
                                         f"(Flux Receiver type {receiver_type(cfg)})"}
        else:
            found["flux"] = f"{UNREACHABLE} (Flux still scans every flux.interval)"
    return found


@dataclass(frozen=True)
class EndpointsArgs:
    config: PlatformConfig
    provider: k8s.Provider
    gateway: pulumi.Resource | None                 # the platform Gateway (None: gateway off)
    namespaces: dict[str, pulumi.Resource] = field(default_factory=dict)   # argocd, CI, flux-system namespaces
    argocd_namespace: str = "argocd"


class PlatformEndpoints(pulumi.ComponentResource):
    """Routes and rate limits for the platform's endpoints, and the webhook relay. Outputs: routes
    (namespace/name), relay (its Deployment, or None)."""

    def __init__(self, name: str, args: EndpointsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:gateway:Endpoints", name, None, opts)
        cfg = args.config
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)

        def after(namespace: str, *more: pulumi.Resource) -> pulumi.ResourceOptions:
            needs = [*more, *([args.gateway] if args.gateway else []),
                     *([args.namespaces[namespace]] if namespace in args.namespaces else [])]
            return pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=needs))

        made = {}
        for route in routes(cfg, args.argocd_namespace):
            ns = route.metadata.namespace
            made[(ns, route.metadata.name)] = custom_resource(f"{name}-route-{ns}-{route.metadata.name}", route,
                                                              after(ns))
        for policy in rate_limits(cfg, args.argocd_namespace):
            ns = policy.metadata.namespace
            targets = [made[(ns, t.name)] for t in policy.spec.target_refs if (ns, t.name) in made]
            custom_resource(f"{name}-ratelimit-{ns}-{policy.metadata.name}", policy, after(ns, *targets))
        self.routes = [f"{ns}/{n}" for ns, n in made]
        self.relay = None
        if cfg.webhooks.relay and cfg.tekton_enabled:
            self.relay = self._relay(name, cfg, after(cfg.tekton.namespace))
        self.register_outputs({"routes": self.routes})

    @staticmethod
    def _relay(name: str, cfg: PlatformConfig, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        """gosmee's client: it reads the relay channel (server-sent events) and posts each event, headers
        and body unchanged, to the EventListener, whose GitHub interceptor still checks the signature.
        Arguments as chmouel/gosmee@v0.32.0:misc/gosmee-client-deployment.yaml has them, minus --saveDir."""
        ns = cfg.tekton.namespace
        labels = {**LABELS, "app.kubernetes.io/name": RELAY}
        return k8s.apps.v1.Deployment(
            f"{name}-relay",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=RELAY, namespace=ns, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": RELAY}),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=RELAY_UID,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                        containers=[k8s.core.v1.ContainerArgs(
                            name="gosmee", image=cfg.versions.image_relay,
                            args=["client", "--output", "json", "--health-port", "8081", cfg.webhooks.relay.url,
                                  listener_url(ns)],
                            ports=[k8s.core.v1.ContainerPortArgs(name="health", container_port=8081)],
                            liveness_probe=k8s.core.v1.ProbeArgs(
                                http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port="health"),
                                initial_delay_seconds=10, period_seconds=30),
                            resources=k8s.core.v1.ResourceRequirementsArgs(
                                requests={"cpu": "10m", "memory": "32Mi"}, limits={"memory": "128Mi"}),
                            security_context=k8s.core.v1.SecurityContextArgs(
                                allow_privilege_escalation=False, read_only_root_filesystem=True,
                                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])),
                            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")])],
                        volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                            size_limit="64Mi"))]))),
            opts=opts)
