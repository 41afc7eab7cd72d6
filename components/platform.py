"""GitOpsPlatform: the top-level component wiring every concern onto one cluster provider."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import ClusterArgs, NodePorts, create_cluster
from components.config import PlatformConfig
from components.models import LABELS


@dataclass(frozen=True)
class PlatformSecrets:
    """Secrets from `pulumi config set --secret`; each is a secret Output, or None when not set."""

    git_token: pulumi.Output[str] | None = None
    registry_password: pulumi.Output[str] | None = None
    git_ssh_private_key: pulumi.Output[str] | None = None
    argocd_webhook_secret: pulumi.Output[str] | None = None
    argocd_token: pulumi.Output[str] | None = None
    tekton_webhook_secret: pulumi.Output[str] | None = None
    flux_webhook_token: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class PlatformArgs:
    config: PlatformConfig
    secrets: PlatformSecrets = field(default_factory=PlatformSecrets)


class GitOpsPlatform(pulumi.ComponentResource):
    """The cluster, the app namespaces, Argo CD and its Applications, Tekton CI, Flux image automation
    and Flagger canaries, all on the cluster's provider. `outputs` holds the stack outputs."""

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:index:GitOpsPlatform", name, None, opts)
        cfg = args.config
        self.config = cfg
        self.node_ports = NodePorts()
        protect = cfg.protected
        self.cluster = create_cluster(
            f"{name}-cluster",
            ClusterArgs(config=cfg.cluster, cluster_name=cfg.cluster_name, environment=cfg.environment,
                        node_ports=self.node_ports),
            pulumi.ResourceOptions(parent=self, protect=protect))
        self.provider = self.cluster.provider
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)

        # App namespaces are created here, not by Argo CD's CreateNamespace, so RBAC, Canaries and
        # Flux objects can depend on them and they are deleted last.
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {
            ns: k8s.core.v1.Namespace(
                f"{name}-ns-{ns}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ns, labels={**LABELS, "gitops-platform/environment": cfg.environment}),
                opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(protect=protect)))
            for ns in cfg.app_namespaces
        }

        self.outputs: dict[str, pulumi.Input] = {
            "kubeconfig": self.cluster.kubeconfig,
            "clusterName": self.cluster.cluster_name,
            "environment": cfg.environment,
            "namespaces": cfg.app_namespaces,
        }

        # --- argocd ---
        # --- end argocd ---

        # --- tekton ---
        # --- end tekton ---

        # --- flux ---
        # --- end flux ---

        # --- flagger ---
        # --- end flagger ---

        self.register_outputs(self.outputs)
