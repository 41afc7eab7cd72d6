"""The cluster the platform runs on: kind (local), EKS, or one the user already has.

Every flavour exposes the same interface to the rest of the program: a `pulumi_kubernetes.Provider`
(`provider`), the kubeconfig as a Pulumi secret (`kubeconfig`), the cluster name, and the node ports
behind which Argo CD and the Tekton dashboard are reachable (kind only).
"""
from __future__ import annotations

import pulumi

from components.cluster.base import ClusterArgs, NodePorts
from components.cluster.eks import EksClusterComponent
from components.cluster.existing import ExistingClusterComponent
from components.cluster.kind import KindClusterComponent


def create_cluster(name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
    """The cluster component for `args.config.provider`."""
    flavour = {"kind": KindClusterComponent, "eks": EksClusterComponent,
               "existing": ExistingClusterComponent}[args.config.provider]
    return flavour(name, args, opts)


__all__ = ["ClusterArgs", "NodePorts", "create_cluster", "KindClusterComponent", "EksClusterComponent",
           "ExistingClusterComponent"]
