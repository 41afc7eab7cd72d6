"""Flagger canaries: Flagger (and its load tester) from the official Helm charts, one Canary per app."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config import INGRESS_PROVIDERS, App, PlatformConfig
from components.models import LABELS, ObjectMeta, custom_resource
from components.models.flagger import (
    Canary,
    CanaryAnalysis,
    CanaryMetric,
    CanaryService,
    CanarySpec,
    CanaryWebhook,
    GatewayRef,
    IngressRef,
    RouteRef,
    TargetRef,
    ThresholdRange,
)

NAMESPACE = "flagger-system"
RELEASE = "flagger"
LOADTESTER = "flagger-loadtester"
LOADTESTER_URL = f"http://{LOADTESTER}.{NAMESPACE}/"
METRIC_INTERVAL = "1m"


def chart_values(config: PlatformConfig) -> dict:
    """Values of the flagger chart (keys from fluxcd/flagger charts/flagger/values.yaml)."""
    return {
        "meshProvider": config.flagger.mesh_provider,
        "metricsServer": config.flagger.prometheus,
        # The CRDs come from the chart's own templates (not Helm's install-only crds/ directory), so an
        # upgrade of the pinned chart upgrades them too.
        "crd": {"create": True},
    }


def deployment_of(app: App) -> str:
    return app.canary.deployment or app.name


def canary_spec(config: PlatformConfig, app: App) -> CanarySpec:
    """The Canary for one app: seed defaults, the provider's routing reference, the load test."""
    canary = app.canary
    namespace = config.namespace_of(app)
    provider = config.flagger.mesh_provider
    target = deployment_of(app)
    gateway_refs = None
    if provider.startswith("gatewayapi") and canary.gateway:
        gw_ns, _, gw_name = canary.gateway.rpartition("/")
        gateway_refs = [GatewayRef(name=gw_name, namespace=gw_ns or namespace)]
    webhooks = None
    if canary.load_test:
        # Flagger names the canary Service <target>-canary; the load tester drives traffic at it.
        webhooks = [CanaryWebhook(
            name="load-test", url=LOADTESTER_URL, timeout="15s",
            metadata={"type": "cmd",
                      "cmd": f"hey -z 1m -q 10 -c 2 http://{target}-canary.{namespace}:{canary.port}/"})]
    # The kubernetes provider cannot split traffic, so Flagger can only run it as blue/green: `iterations`
    # checks instead of weights (given weights, it warns on every run and forces 10). The CRD takes one or
    # the other; the platform runs as many checks as the weights imply (50/10 -> 5).
    blue_green = provider == "kubernetes"
    iterations = math.ceil(canary.max_weight / canary.step_weight) if blue_green else None
    base = provider.split(":")[0]
    return CanarySpec(
        target_ref=TargetRef(name=target),
        progress_deadline_seconds=canary.progress_deadline_seconds,
        service=CanaryService(port=canary.port, target_port=canary.target_port, gateway_refs=gateway_refs),
        analysis=CanaryAnalysis(
            interval=canary.interval, threshold=canary.threshold, iterations=iterations,
            max_weight=None if blue_green else canary.max_weight,
            step_weight=None if blue_green else canary.step_weight,
            metrics=[
                CanaryMetric(name="request-success-rate", threshold_range=ThresholdRange(min=canary.success_rate),
                             interval=METRIC_INTERVAL),
                CanaryMetric(name="request-duration", threshold_range=ThresholdRange(max=canary.max_duration_ms),
                             interval=METRIC_INTERVAL),
            ],
            webhooks=webhooks),
        ingress_ref=IngressRef(name=canary.ingress) if base in INGRESS_PROVIDERS - {"apisix"} else None,
        route_ref=RouteRef(name=canary.ingress) if base == "apisix" else None,
    )


@dataclass(frozen=True)
class FlaggerArgs:
    config: PlatformConfig
    provider: k8s.Provider
    app_namespaces: dict[str, k8s.core.v1.Namespace]


class Flagger(pulumi.ComponentResource):
    """Flagger from the pinned `flagger` chart (mesh provider and Prometheus from config, CRDs from the
    chart), the `loadtester` chart when any canary load-tests, and one Canary per app with
    `canary.enabled`, in the app's namespace. Outputs: namespace, canaries (namespace/name)."""

    def __init__(self, name: str, args: FlaggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:flagger:Flagger", name, None, opts)
        cfg = args.config
        versions = cfg.versions
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels=LABELS),
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(protect=cfg.protected)))
        in_namespace = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[self.namespace]))
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE, namespace=NAMESPACE, chart=versions.flagger_chart, version=versions.flagger_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.flagger_chart_repo),
            values=chart_values(cfg), skip_crds=True,
            opts=in_namespace)
        canary_apps = [app for app in cfg.apps if app.has_canary]
        installs: list[pulumi.Resource] = [self.release]
        self.loadtester = None
        if any(app.canary.load_test for app in canary_apps):
            self.loadtester = k8s.helm.v3.Release(
                f"{name}-loadtester",
                name=LOADTESTER, namespace=NAMESPACE, chart=versions.loadtester_chart,
                version=versions.loadtester_chart_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.flagger_chart_repo),
                values={"fullnameOverride": LOADTESTER},
                opts=in_namespace)
            installs.append(self.loadtester)
        self.canaries = []
        for app in canary_apps:
            ns = cfg.namespace_of(app)
            depends = [*installs, args.app_namespaces[ns]] if ns in args.app_namespaces else installs
            self.canaries.append(custom_resource(
                f"{name}-canary-{app.name}",
                Canary(metadata=ObjectMeta(name=app.name, namespace=ns, labels=LABELS), spec=canary_spec(cfg, app)),
                pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=depends))))
        self.canary_names = [f"{cfg.namespace_of(app)}/{app.name}" for app in canary_apps]
        self.register_outputs({"namespace": NAMESPACE, "canaries": self.canary_names})
