"""An EKS cluster that can run the whole loop: its own VPC (or the user's), a managed node group in
private subnets, access entries, the EBS CSI driver with its IAM role, and a default gp3 StorageClass.

Why each piece (cited in docs/eks.md): EKS has put no default annotation on its gp2 StorageClass since
1.30 and installs no CSI driver, so without the add-on and a default class every Tekton workspace claim
stays Pending; the driver's controller needs AWS permissions, given by IRSA through the cluster's OIDC
provider; API authentication mode makes the identity running `pulumi up` the cluster admin
(pulumi-eks sets bootstrapClusterCreatorAdminPermissions) and lets a read-only CI principal in by an
access entry, with no aws-auth ConfigMap.
"""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.cluster.base import ClusterArgs, client_settings

NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
EBS_CSI_ACCOUNT = "system:serviceaccount:kube-system:ebs-csi-controller-sa"   # the add-on's controller
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"     # read-only, no Secrets
STORAGE_CLASS = "gp3"
VPC_CIDR = "10.0.0.0/16"


def vpc_args() -> dict:
    """Two AZs, private subnets for nodes (one NAT gateway) and public subnets for load balancers, tagged
    for the load balancer discovery of the AWS cloud provider and the AWS Load Balancer Controller
    (kubernetes.io/role/elb and .../internal-elb; awsx adds no EKS tags itself)."""
    return dict(
        cidr_block=VPC_CIDR, number_of_availability_zones=2,
        nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy.SINGLE),
        subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
        subnet_specs=[
            awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, cidr_mask=19,
                                    tags={"kubernetes.io/role/internal-elb": "1"}),
            awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=22,
                                    tags={"kubernetes.io/role/elb": "1"}),
        ])


def irsa_trust_policy(provider_arn: str, issuer: str, subject: str) -> str:
    """The role's trust: web identities of one ServiceAccount from the cluster's OIDC provider
    (awsdocs/amazon-eks-user-guide: storage/ebs-csi.adoc). `issuer` is the provider URL without https://."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}}}]})


class EksClusterComponent(pulumi.ComponentResource):
    """Outputs: kubeconfig (secret), cluster name, vpcId. `storage_class` is the default StorageClass."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:cluster:EksCluster", name, None, opts)
        cfg = args.config.eks
        aws_provider = aws.Provider(f"{name}-aws", region=cfg.region, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=aws_provider)
        with_aws = pulumi.ResourceOptions(parent=self, providers={"aws": aws_provider})
        tags = {"gitops-platform/environment": args.environment, "gitops-platform/cluster": args.cluster_name}

        if cfg.vpc_id:
            vpc_id = pulumi.Output.from_input(cfg.vpc_id)
            private_subnets = pulumi.Output.from_input(cfg.private_subnet_ids)
            public_subnets = pulumi.Output.from_input(cfg.public_subnet_ids)
        else:
            self.vpc = awsx.ec2.Vpc(f"{name}-vpc", **vpc_args(), tags=tags, opts=with_aws)
            vpc_id, private_subnets, public_subnets = (self.vpc.vpc_id, self.vpc.private_subnet_ids,
                                                       self.vpc.public_subnet_ids)

        self.node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]}),
            tags=tags, opts=child)
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-node-{i}", role=self.node_role.name, policy_arn=arn,
                                                    opts=child)
                       for i, arn in enumerate(NODE_POLICIES)]
        access_entries = None
        if cfg.preview_role_arn:
            access_entries = {"preview": eks.AccessEntryArgs(
                principal_arn=cfg.preview_role_arn,
                access_policies={"view": eks.AccessPolicyAssociationArgs(
                    policy_arn=VIEW_POLICY,
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"))})}
        # API mode: access entries, no aws-auth ConfigMap. The deploying identity's admin entry is made by
        # pulumi-eks itself (never list it here: a second entry for it fails with 409, pulumi/pulumi-eks#2373);
        # EKS makes the managed node group's entry.
        self.eks = eks.Cluster(
            f"{name}-eks", name=args.cluster_name, version=cfg.version, create_oidc_provider=True,
            skip_default_node_group=True, authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries, vpc_id=vpc_id, private_subnet_ids=private_subnets,
            public_subnet_ids=public_subnets, endpoint_public_access=True, endpoint_private_access=True,
            tags=tags, opts=with_aws)
        self.node_group = eks.ManagedNodeGroup(
            f"{name}-nodes", cluster=self.eks, node_role=self.node_role, instance_types=[cfg.instance_type],
            subnet_ids=private_subnets,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                desired_size=cfg.desired_nodes, min_size=cfg.min_nodes, max_size=cfg.max_nodes),
            opts=pulumi.ResourceOptions.merge(with_aws, pulumi.ResourceOptions(depends_on=attachments)))

        # The EBS CSI driver as an EKS add-on, its controller with an IAM role of its own (IRSA).
        self.ebs_role = aws.iam.Role(
            f"{name}-ebs-csi-role",
            assume_role_policy=pulumi.Output.all(self.eks.oidc_provider_arn, self.eks.oidc_issuer).apply(
                lambda a: irsa_trust_policy(a[0], a[1], EBS_CSI_ACCOUNT)),
            tags=tags, opts=child)
        ebs_policy = aws.iam.RolePolicyAttachment(f"{name}-ebs-csi-policy", role=self.ebs_role.name,
                                                  policy_arn=EBS_CSI_POLICY, opts=child)
        self.ebs_addon = eks.Addon(
            f"{name}-ebs-csi", cluster=self.eks, addon_name="aws-ebs-csi-driver",
            service_account_role_arn=self.ebs_role.arn,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", tags=tags,
            # its controller needs nodes to run on, and its role's permissions from the start
            opts=pulumi.ResourceOptions.merge(with_aws, pulumi.ResourceOptions(
                depends_on=[self.node_group, ebs_policy])))

        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        self.kubeconfig = pulumi.Output.secret(self.eks.kubeconfig_json)
        self.provider = k8s.Provider(f"{name}-provider", kubeconfig=self.kubeconfig,
                                     kube_client_settings=client_settings(args.config),
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_group]))
        # The default class: gp3 through the CSI driver (kubernetes-sigs/aws-ebs-csi-driver docs/parameters.md),
        # bound where the pod is scheduled, so a Tekton run's volume is in its node's zone.
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS, annotations={"storageclass.kubernetes.io/is-default-class": "true"},
                labels={"app.kubernetes.io/managed-by": "gitops-platform"}),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "csi.storage.k8s.io/fstype": "ext4", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer", allow_volume_expansion=True, reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.ebs_addon]))
        self.vpc_id = vpc_id
        self.register_outputs({"kubeconfig": self.kubeconfig, "clusterName": self.cluster_name, "vpcId": vpc_id})
