"""Tekton Pipelines, Triggers (+ interceptors) and Dashboard from their pinned release manifests."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.models import LABELS
from components.versions import Versions

TEKTON_NAMESPACE = "tekton-pipelines"  # where every release manifest installs its controllers
DASHBOARD_PORT = 9097
# The labels the dashboard release puts on its pods (config/300-deployment.yaml, same as its Service).
DASHBOARD_SELECTOR = {
    "app.kubernetes.io/name": "dashboard",
    "app.kubernetes.io/component": "dashboard",
    "app.kubernetes.io/instance": "default",
    "app.kubernetes.io/part-of": "tekton-dashboard",
}


@dataclass
class Installs:
    pipelines: k8s.yaml.v2.ConfigFile
    triggers: k8s.yaml.v2.ConfigFile
    interceptors: k8s.yaml.v2.ConfigFile
    dashboard: k8s.yaml.v2.ConfigFile
    dashboard_node_port: k8s.core.v1.Service | None


def install(name: str, versions: Versions, dashboard_node_port: int | None,
            child: pulumi.ResourceOptions) -> Installs:
    """Apply the release manifests in CRD order (Triggers needs Pipelines' CRDs, the interceptors need
    Triggers' ClusterInterceptor CRD). With `dashboard_node_port`, also expose the dashboard on that
    NodePort (kind maps the dashboard host port to it)."""

    def after(*deps: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(deps)))

    pipelines = k8s.yaml.v2.ConfigFile(f"{name}-pipelines", file=versions.tekton_pipelines_url, opts=child)
    triggers = k8s.yaml.v2.ConfigFile(f"{name}-triggers", file=versions.tekton_triggers_url, opts=after(pipelines))
    interceptors = k8s.yaml.v2.ConfigFile(f"{name}-interceptors", file=versions.tekton_interceptors_url,
                                          opts=after(triggers))
    dashboard = k8s.yaml.v2.ConfigFile(f"{name}-dashboard", file=versions.tekton_dashboard_url,
                                       opts=after(pipelines))
    service = None
    if dashboard_node_port is not None:
        service = k8s.core.v1.Service(
            f"{name}-dashboard-nodeport",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="tekton-dashboard-nodeport", namespace=TEKTON_NAMESPACE,
                                                labels=LABELS),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="NodePort", selector=DASHBOARD_SELECTOR,
                ports=[k8s.core.v1.ServicePortArgs(name="http", protocol="TCP", port=DASHBOARD_PORT,
                                                   target_port=DASHBOARD_PORT, node_port=dashboard_node_port)]),
            opts=after(dashboard))
    return Installs(pipelines, triggers, interceptors, dashboard, service)
