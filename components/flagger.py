"""Flagger canaries: Flagger (and its load tester) from the official Helm charts, one Canary per app."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import gateway as platform_gateway
from components import prometheus
from components.config import INGRESS_PROVIDERS, App, PlatformConfig, metric_template_name
from components.models import HELM_TIMEOUT, LABELS, ObjectMeta, custom_resource, pod_security
from components.models.flagger import (
    AutoscalerRef,
    Canary,
    CanaryAnalysis,
    CanaryMetric,
    CanaryService,
    CanarySpec,
    CanaryWebhook,
    IngressRef,
    MetricProvider,
    MetricTemplate,
    MetricTemplateSpec,
    RouteRef,
    TargetRef,
    TemplateRef,
    ThresholdRange,
)
from components.models.gateway import ParentReference
from components.tekton.identity import WATCHER
from components.versions import Versions

NAMESPACE = "flagger-system"
RELEASE = "flagger"
LOADTESTER = "flagger-loadtester"
LOADTESTER_URL = f"http://{LOADTESTER}.{NAMESPACE}/"
METRIC_INTERVAL = "1m"
CANARY_READER = "gitops-platform-canary-reader"


# Requests of the pods Flagger adds (for the kind capacity sum in docs/flux-flagger.md).
FLAGGER_REQUESTS = {"cpu": "10m", "memory": "32Mi"}      # charts/flagger/values.yaml defaults
LOADTESTER_REQUESTS = {"cpu": "10m", "memory": "64Mi"}   # charts/loadtester/values.yaml defaults


def prometheus_address(config: PlatformConfig) -> str:
    """The Prometheus every analysis queries: the user's, or the one the platform installs."""
    return config.flagger.prometheus or prometheus.address(NAMESPACE)


# A container securityContext that passes Pod Security `restricted` on its own (no pod-level one needed).
RESTRICTED_CONTAINER = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def loadtester_values(versions: Versions | None = None) -> dict:
    """Values of the loadtester chart (fluxcd/flagger@v1.44.0:charts/loadtester/values.yaml): its
    securityContext is off by default; on, with the chart's own user (the image's app user, 100:101)."""
    return {"fullnameOverride": LOADTESTER,
            "resources": {"requests": LOADTESTER_REQUESTS, "limits": {"memory": "256Mi"}},
            "securityContext": {"enabled": True, "context": {**RESTRICTED_CONTAINER, "runAsUser": 100, "runAsGroup": 101}},
            "image": (versions or Versions()).chart_image("chart_image_loadtester")}


def chart_values(config: PlatformConfig) -> dict:
    """Values of the flagger chart (keys from fluxcd/flagger@v1.44.0:charts/flagger/values.yaml). The
    chart's own Prometheus stays off (prometheus.install would also re-point -metrics-server at it)."""
    return {
        "meshProvider": config.mesh_provider,
        "metricsServer": prometheus_address(config),
        # The CRDs come from the chart's own templates (not Helm's install-only crds/ directory), so an
        # upgrade of the pinned chart upgrades them too.
        "crd": {"create": True},
        "selectorLabels": ",".join(config.flagger.selector_labels),
        "resources": {"requests": FLAGGER_REQUESTS, "limits": {"memory": "512Mi"}},
        # The chart's context (read-only root, UID 10001, values.yaml securityContext.context) completed
        # to what Pod Security `restricted` requires; the chart sets no pod-level securityContext.
        "securityContext": {"enabled": True, "context": {**RESTRICTED_CONTAINER, "runAsUser": 10001}},
        # templates/deployment.yaml renders "repository:tag", so a tag@sha256: pins it by digest.
        "image": config.versions.chart_image("chart_image_flagger"),
    }


def deployment_of(app: App) -> str:
    return app.canary.deployment or app.name


def metric_templates(config: PlatformConfig, app: App) -> list[MetricTemplate]:
    """One MetricTemplate per check the app declares, in the app's namespace (Flagger fills in
    {{ namespace }}, {{ target }}, {{ interval }}... when it runs the query)."""
    return [MetricTemplate(
        metadata=ObjectMeta(name=metric_template_name(app, m.name), namespace=config.namespace_of(app), labels=LABELS),
        spec=MetricTemplateSpec(provider=MetricProvider(address=prometheus_address(config)), query=m.query))
        for m in app.canary.metrics]


def gateway_refs(config: PlatformConfig, app: App) -> list[ParentReference]:
    if app.canary.gateway:
        gw_ns, _, gw_name = app.canary.gateway.rpartition("/")
        return [ParentReference(name=gw_name, namespace=gw_ns or config.namespace_of(app))]
    return [platform_gateway.parent_ref()]


def load_test_command(config: PlatformConfig, app: App) -> str:
    """hey drives traffic at the app's hostname: through the platform Gateway with the Gateway API
    provider, so the analysed traffic is the traffic the route splits (Flagger's Gateway API tutorial,
    docs/gitbook/tutorials/gatewayapi-progressive-delivery.md); else at the canary Service directly."""
    canary = app.canary
    if config.mesh_provider.startswith("gatewayapi") and not canary.gateway and config.installs_envoy_gateway:
        return f"hey -z 1m -q 10 -c 2 -host {config.host_of(app)} {platform_gateway.in_cluster_url()}/"
    return f"hey -z 1m -q 10 -c 2 http://{deployment_of(app)}-canary.{config.namespace_of(app)}:{canary.port}/"


def canary_spec(config: PlatformConfig, app: App) -> CanarySpec:
    """The Canary for one app: seed defaults, the provider's routing reference, the load test."""
    canary = app.canary
    provider = config.mesh_provider
    target = deployment_of(app)
    gateway_api = provider.startswith("gatewayapi")
    webhooks = None
    if canary.load_test:
        webhooks = [CanaryWebhook(name="load-test", url=LOADTESTER_URL, timeout="15s",
                                  metadata={"type": "cmd", "cmd": load_test_command(config, app)})]
    # The kubernetes provider cannot split traffic, so Flagger can only run it as blue/green: `iterations`
    # checks instead of weights (given weights, it warns on every run and forces 10). The CRD takes one or
    # the other; the platform runs as many checks as the weights imply (50/10 -> 5).
    blue_green = provider == "kubernetes"
    iterations = math.ceil(canary.max_weight / canary.step_weight) if blue_green else None
    base = provider.split(":")[0]
    metrics = []
    if canary.builtin_metrics:
        metrics += [
            CanaryMetric(name="request-success-rate", threshold_range=ThresholdRange(min=canary.success_rate),
                         interval=METRIC_INTERVAL),
            CanaryMetric(name="request-duration", threshold_range=ThresholdRange(max=canary.max_duration_ms),
                         interval=METRIC_INTERVAL)]
    metrics += [CanaryMetric(name=m.name, interval=m.interval,
                             threshold_range=ThresholdRange(min=m.threshold_range.min, max=m.threshold_range.max),
                             template_ref=TemplateRef(name=metric_template_name(app, m.name)))
                for m in canary.metrics]
    return CanarySpec(
        target_ref=TargetRef(name=target),
        autoscaler_ref=AutoscalerRef(name=target) if canary.autoscaler else None,
        # Deleting the Canary hands the app back: the Deployment scaled up and its Service restored
        # (pkg/controller/finalizer.go), instead of leaving it at zero replicas.
        revert_on_deletion=True,
        progress_deadline_seconds=canary.progress_deadline_seconds,
        service=CanaryService(port=canary.port, target_port=canary.target_port,
                              gateway_refs=gateway_refs(config, app) if gateway_api else None,
                              hosts=[config.host_of(app)] if gateway_api else None),
        analysis=CanaryAnalysis(
            interval=canary.interval, threshold=canary.threshold, iterations=iterations,
            max_weight=None if blue_green else canary.max_weight,
            step_weight=None if blue_green else canary.step_weight,
            metrics=metrics, webhooks=webhooks),
        ingress_ref=IngressRef(name=canary.ingress) if base in INGRESS_PROVIDERS - {"apisix"} else None,
        route_ref=RouteRef(name=canary.ingress) if base == "apisix" else None,
    )


@dataclass(frozen=True)
class FlaggerArgs:
    config: PlatformConfig
    provider: k8s.Provider
    app_namespaces: dict[str, k8s.core.v1.Namespace]
    gateway: pulumi.Resource | None = None     # the platform Gateway the canaries' routes attach to
    # app name -> the Argo CD Application that deploys its Deployment. Each Canary depends on it, so
    # `pulumi destroy` deletes the Canary first: with revertOnDeletion, Flagger's finalizer restores the
    # Deployment before releasing the Canary (flagger@v1.44.0 pkg/controller/finalizer.go), which it can
    # only do while the Application (and what it deployed) is still there.
    applications: dict[str, pulumi.Resource] = field(default_factory=dict)


class Flagger(pulumi.ComponentResource):
    """Flagger from the pinned `flagger` chart (mesh provider and Prometheus from config, CRDs from the
    chart), the `loadtester` chart when any canary load-tests, and one Canary per app with
    `canary.enabled`, in the app's namespace. Outputs: namespace, canaries (namespace/name)."""

    @staticmethod
    def _readers(name: str, cfg: PlatformConfig, namespaces: list[str], args: FlaggerArgs,
                 on_cluster: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """Read-only access to the canary apps' namespaces, one RoleBinding each for everyone who needs it:
        the platform's Prometheus lists the pods to scrape, gitops-ci's watcher reads the Canary, its
        Deployments and Flagger's events. No cluster-wide read, and one object per namespace."""
        subjects = []
        if cfg.installs_prometheus:
            subjects.append(k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=prometheus.NAME, namespace=NAMESPACE))
        if cfg.tekton_enabled:
            subjects.append(k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=WATCHER,
                                                    namespace=cfg.tekton.namespace))
        if not subjects or not namespaces:
            return []
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-canary-reader", metadata=k8s.meta.v1.ObjectMetaArgs(name=CANARY_READER, labels=LABELS),
            rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods"], verbs=["get", "list", "watch"]),
                   k8s.rbac.v1.PolicyRuleArgs(api_groups=["flagger.app"], resources=["canaries"], verbs=["get"]),
                   k8s.rbac.v1.PolicyRuleArgs(api_groups=["apps"], resources=["deployments"], verbs=["get"]),
                   k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["events"], verbs=["list"])],
            opts=on_cluster)
        return [role, *(k8s.rbac.v1.RoleBinding(
            f"{name}-canary-reader-{ns}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=CANARY_READER, namespace=ns, labels=LABELS),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                             name=CANARY_READER),
            subjects=subjects,
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                depends_on=[role, *([args.app_namespaces[ns]] if ns in args.app_namespaces else [])])))
            for ns in namespaces)]

    def __init__(self, name: str, args: FlaggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:flagger:Flagger", name, None, opts)
        cfg = args.config
        versions = cfg.versions
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels={
                **LABELS, **pod_security("restricted")}),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(protect=cfg.protected)))
        in_namespace = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[self.namespace]))
        canary_apps = [app for app in cfg.apps if app.has_canary]
        canary_namespaces = sorted({cfg.namespace_of(a) for a in canary_apps})
        self.prometheus = None
        if cfg.installs_prometheus:
            self.prometheus = prometheus.CanaryPrometheus(
                f"{name}-prometheus",
                prometheus.PrometheusArgs(config=cfg, provider=args.provider, namespace=NAMESPACE,
                                          namespace_resource=self.namespace, app_namespaces=canary_namespaces),
                pulumi.ResourceOptions(parent=self))
        self.readers = self._readers(name, cfg, canary_namespaces, args, on_cluster)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            timeout=HELM_TIMEOUT,
            name=RELEASE, namespace=NAMESPACE, chart=versions.flagger_chart, version=versions.flagger_chart_version,
            repository_opts=versions.repository_opts(versions.flagger_chart_repo),
            values=chart_values(cfg), skip_crds=True,
            opts=in_namespace)
        installs: list[pulumi.Resource] = [self.release, *([args.gateway] if args.gateway else [])]
        self.loadtester = None
        if any(app.canary.load_test for app in canary_apps):
            self.loadtester = k8s.helm.v3.Release(
                f"{name}-loadtester",
                timeout=HELM_TIMEOUT,
                name=LOADTESTER, namespace=NAMESPACE, chart=versions.loadtester_chart,
                version=versions.loadtester_chart_version,
                repository_opts=versions.repository_opts(versions.flagger_chart_repo),
                values=loadtester_values(versions),
                opts=in_namespace)
            installs.append(self.loadtester)
        self.canaries = []
        for app in canary_apps:
            ns = cfg.namespace_of(app)
            depends = [*installs, args.app_namespaces[ns]] if ns in args.app_namespaces else list(installs)
            deployed_by = [args.applications[app.name]] if app.name in args.applications else []
            templates = [custom_resource(f"{name}-metric-{app.name}-{m.metadata.name}", m,
                                         pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                                             depends_on=depends)))
                         for m in metric_templates(cfg, app)]
            self.canaries.append(custom_resource(
                f"{name}-canary-{app.name}",
                Canary(metadata=ObjectMeta(name=app.name, namespace=ns, labels=LABELS), spec=canary_spec(cfg, app)),
                pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[*depends, *templates, *deployed_by]))))
        self.canary_names = [f"{cfg.namespace_of(app)}/{app.name}" for app in canary_apps]
        self.prometheus_address = prometheus_address(cfg)
        self.register_outputs({"namespace": NAMESPACE, "canaries": self.canary_names,
                               "prometheus": self.prometheus_address})
