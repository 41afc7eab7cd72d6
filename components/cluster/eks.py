"""An EKS cluster with a managed node group and the IAM OIDC provider on."""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.cluster.base import ClusterArgs

NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)


class EksClusterComponent(pulumi.ComponentResource):
    """`pulumi_eks.Cluster` (OIDC provider on, no default node group) plus a managed node group sized
    from config. Outputs: kubeconfig (secret), cluster name."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:cluster:EksCluster", name, None, opts)
        cfg = args.config.eks
        aws_provider = aws.Provider(f"{name}-aws", region=cfg.region, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=aws_provider)
        self.node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]}),
            opts=child)
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-node-{i}", role=self.node_role.name, policy_arn=arn,
                                                    opts=child)
                       for i, arn in enumerate(NODE_POLICIES)]
        self.eks = eks.Cluster(
            f"{name}-eks", name=args.cluster_name, version=cfg.version, create_oidc_provider=True,
            skip_default_node_group=True, instance_roles=[self.node_role],
            tags={"gitops-platform/environment": args.environment},
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": aws_provider}))
        self.node_group = eks.ManagedNodeGroup(
            f"{name}-nodes", cluster=self.eks, node_role=self.node_role, instance_types=[cfg.instance_type],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                desired_size=cfg.desired_nodes, min_size=cfg.min_nodes, max_size=cfg.max_nodes),
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": aws_provider}, depends_on=attachments))
        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        self.kubeconfig = pulumi.Output.secret(self.eks.kubeconfig_json)
        self.provider = k8s.Provider(f"{name}-provider", kubeconfig=self.kubeconfig,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_group]))
        self.register_outputs({"kubeconfig": self.kubeconfig, "clusterName": self.cluster_name})
