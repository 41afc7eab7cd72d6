from __future__ import annotations

from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.config import ClusterConfig


def client_settings(config: ClusterConfig) -> k8s.KubeClientSettingsArgs:
    """The provider's client rate limit (cluster.kubeClient; components/config/cluster.py KubeClient)."""
    return k8s.KubeClientSettingsArgs(qps=config.kube_client.qps, burst=config.kube_client.burst)


@dataclass(frozen=True)
class NodePorts:
    """Node ports that kind maps to host ports: host port -> NodePort service -> pod."""

    argocd: int = 30080
    # The argo-cd chart gives its HTTPS port a node port too (nodePortHttps: 30443 by default,
    # argo-helm@argo-cd-10.1.1 charts/argo-cd/values.yaml, templates/argocd-server/service.yaml), which
    # is the Gateway's HTTPS node port: the second Service would be refused. kind maps no host port to it.
    argocd_https: int = 30081
    dashboard: int = 30900
    gateway: int = 30800        # the platform Gateway's HTTP listener (Envoy Service port 80)
    gateway_https: int = 30443  # its HTTPS listeners (port 443), when TLS is on
    git: int = 30300            # the embedded Git server (kind without configRepo)

    def all(self) -> dict[str, int]:
        """Every node port the platform sets, by role (they must be distinct: one Service per port)."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ClusterArgs:
    config: ClusterConfig
    cluster_name: str
    environment: str
    node_ports: NodePorts = NodePorts()
    kind_node_image: str = ""      # versions.kindNodeImage
    kind_version: str = ""         # versions.kindVersion: the kind release that node image was built for
    gateway_host_port: int | None = None   # kind: host port mapped to the Gateway's NodePort (None: no Gateway)
    gateway_https_host_port: int | None = None   # kind: host port mapped to its HTTPS NodePort (None: no TLS)
    git_host_port: int | None = None             # kind: host port of the embedded Git server (None: none)
    registry: tuple[str, str] | None = None      # kind: (registry host:port, its ClusterIP) the nodes pull from
