"""A cluster the user already has, reached through their kubeconfig file and context."""
from __future__ import annotations

import os

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.base import ClusterArgs, client_settings


class ExistingClusterComponent(pulumi.ComponentResource):
    """A provider for an existing cluster. The kubeconfig file is read by the Kubernetes provider at
    deploy time (its `KUBECONFIG` path), so preview, render and tests never need the file to exist.
    Outputs: kubeconfig (the path, as a secret like the other flavours), cluster name."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:cluster:ExistingCluster", name, None, opts)
        cfg = args.config.existing
        path = os.path.expanduser(cfg.kubeconfig)
        # The provider accepts a path as well as file contents and reads it when it connects.
        self.kubeconfig = pulumi.Output.secret(path)
        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        self.provider = k8s.Provider(f"{name}-provider", kubeconfig=self.kubeconfig, context=cfg.context,
                                     kube_client_settings=client_settings(args.config),
                                     opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"kubeconfig": self.kubeconfig, "clusterName": self.cluster_name})
