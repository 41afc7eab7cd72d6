"""`gitops-platform:cluster`: where the platform runs (kind, EKS, or a cluster the user has)."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import Model, PlatformConfigErrors, dns_label

# An EC2 instance type: family letters, a generation digit, attribute letters, '.', a size
# (t3.large, m7g.2xlarge, c6in.metal-48xl, u-12tb1.112xlarge).
INSTANCE_TYPE = re.compile(r"([a-z]+-)?[a-z]+[0-9]+[a-z0-9-]*\.[a-z0-9-]+")


class KindCluster(Model):
    workers: int = Field(2, ge=0, le=10)
    argocd_host_port: int = Field(8080, ge=1, le=65535)
    dashboard_host_port: int = Field(9000, ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _moved_node_image(cls, data: Any) -> Any:
        if isinstance(data, dict) and "nodeImage" in data:
            raise PlatformConfigErrors([("nodeImage", "has moved to versions.kindNodeImage (every pin lives in the "
                                         "versions table; it must be name:tag@sha256:<digest> of the kind release "
                                         "in versions.kindVersion)")])
        return data

    @model_validator(mode="after")
    def _distinct_ports(self):
        if self.argocd_host_port == self.dashboard_host_port:
            raise PlatformConfigErrors([("dashboardHostPort", "must differ from argocdHostPort")])
        return self

    @property
    def schedulable_nodes(self) -> int:
        # kind keeps the control-plane taint when there are workers; a single node is untainted.
        return self.workers or 1


ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}")


class EksCluster(Model):
    region: str | None = None
    # In EKS standard support until 2027-03-27, and the minor of the pinned kind node image.
    version: str = "1.35"
    # An existing VPC instead of the one the platform builds: nodes go in the private subnets, internet-
    # facing load balancers in the public ones (tagged kubernetes.io/role/elb).
    vpc_id: str | None = None
    private_subnet_ids: list[str] = Field(default_factory=list)
    public_subnet_ids: list[str] = Field(default_factory=list)
    # An IAM role that may read the cluster (EKS access policy AmazonEKSViewPolicy: no Secrets), for the
    # `pulumi preview` of pull requests. The identity running `pulumi up` is the cluster's admin.
    preview_role_arn: str | None = None
    instance_type: str = "t3.large"
    desired_nodes: int = Field(3, ge=1, le=100)
    min_nodes: int = Field(3, ge=1, le=100)
    max_nodes: int = Field(6, ge=1, le=100)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]", value):
            raise ValueError(f"{value!r} is not an AWS region like us-west-2")
        return value

    @field_validator("vpc_id")
    @classmethod
    def _vpc(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"vpc-[0-9a-f]{8}([0-9a-f]{9})?", value):
            raise ValueError(f"{value!r} is not a VPC id like vpc-0a1b2c3d4e5f67890")
        return value

    @field_validator("private_subnet_ids", "public_subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.fullmatch(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?", s)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a subnet id like subnet-0a1b2c3d4e5f67890")
        if len(set(value)) != len(value):
            raise ValueError("lists a subnet twice")
        return value

    @field_validator("preview_role_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not ARN.fullmatch(value):
            raise ValueError(f"{value!r} is not an IAM role or user ARN like arn:aws:iam::123456789012:role/ci-preview")
        # IAM paths are /-separated names (IAM API reference, Path: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)),
        # and an IAM name is [\w+=,.@-]+: '..' or an empty part names no role a reader should trust.
        if value is not None and any(part in ("", ".", "..") for part in value.split(":", 5)[5].split("/")[1:]):
            raise ValueError(f"{value!r} has an empty, '.' or '..' part in its path")
        if value is not None and len(value.split("/")[-1]) > 64:
            raise ValueError(f"{value!r} has a role or user name over IAM's 64 characters")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"1\.[0-9]{2}", value):
            raise ValueError(f"{value!r} is not a Kubernetes minor version like \"1.35\"")
        return value

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not INSTANCE_TYPE.fullmatch(value):
            raise ValueError(f"{value!r} is not an EC2 instance type like t3.large or m7g.xlarge")
        return value

    @model_validator(mode="after")
    def _sizes(self):
        errors = []
        if not self.min_nodes <= self.desired_nodes <= self.max_nodes:
            errors.append(("desiredNodes", f"must satisfy minNodes <= desiredNodes <= maxNodes "
                           f"(got {self.min_nodes} <= {self.desired_nodes} <= {self.max_nodes})"))
        if self.vpc_id and not (self.private_subnet_ids and self.public_subnet_ids):
            errors.append(("privateSubnetIds", "and publicSubnetIds are both needed with vpcId (nodes go in the "
                           "private subnets, the Gateway's load balancer in the public ones)"))
        if not self.vpc_id and (self.private_subnet_ids or self.public_subnet_ids):
            errors.append(("vpcId", "is needed with subnet ids (they belong to a VPC)"))
        if set(self.private_subnet_ids) & set(self.public_subnet_ids):
            errors.append(("publicSubnetIds", "shares a subnet with privateSubnetIds"))
        if errors:
            raise PlatformConfigErrors(errors)
        return self


class ExistingCluster(Model):
    kubeconfig: str = "~/.kube/config"
    context: str | None = None


class KubeClient(Model):
    """The pulumi-kubernetes provider's client rate limit (its `kubeClientSettings`). The provider's own
    defaults are 50 requests/s with bursts of 120 (pulumi/pulumi-kubernetes@v4.25.0:
    provider/pkg/provider/provider.go); a stack of hundreds of apps makes about 7 API requests per resource
    it creates (tests/cluster measures them), so the platform doubles both. kube-apiserver serves 400
    requests (200 mutating) at once by default (k8s.io/apiserver@v0.35.5:pkg/server/config.go) and API
    Priority and Fairness queues a client over its share instead of failing it."""

    qps: float = Field(100.0, gt=0, le=1000)
    burst: int = Field(200, ge=1, le=2000)

    @model_validator(mode="after")
    def _burst_covers_qps(self):
        if self.burst < self.qps:
            raise PlatformConfigErrors([("burst", f"must be at least qps ({self.qps:g}): client-go's token "
                                                  "bucket never holds more than burst requests")])
        return self


class ClusterConfig(Model):
    provider: Literal["kind", "eks", "existing"] = "kind"
    name: str | None = None
    kind: KindCluster = KindCluster()
    eks: EksCluster = EksCluster()
    existing: ExistingCluster = ExistingCluster()
    kube_client: KubeClient = KubeClient()

    _name = field_validator("name")(classmethod(lambda cls, v: v if v is None else dns_label("cluster name")(v)))

    @model_validator(mode="after")
    def _eks_region(self):
        if self.provider == "eks" and not self.eks.region:
            raise PlatformConfigErrors([("eks.region", "is required when provider is eks")])
        return self
