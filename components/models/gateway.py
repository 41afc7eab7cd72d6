"""Gateway API (`gateway.networking.k8s.io/v1`, standard channel) and Envoy Gateway
(`gateway.envoyproxy.io/v1alpha1`) objects, field names as in the upstream CRD schemas."""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from components.models import CustomObject, K8sModel

GATEWAY_API = "gateway.networking.k8s.io/v1"
ENVOY_GATEWAY = "gateway.envoyproxy.io/v1alpha1"


# ---------------------------------------------------------------- Gateway API
class GatewayClassSpec(K8sModel):
    controller_name: str
    description: str | None = None


class GatewayClass(CustomObject):
    api_version: ClassVar[str] = GATEWAY_API
    kind: ClassVar[str] = "GatewayClass"
    spec: GatewayClassSpec


class LabelSelector(K8sModel):
    match_labels: dict[str, str]


class RouteNamespaces(K8sModel):
    from_: Literal["All", "Selector", "Same"]
    selector: LabelSelector | None = None


class AllowedRoutes(K8sModel):
    namespaces: RouteNamespaces


class SecretObjectReference(K8sModel):
    group: str = ""
    kind: str = "Secret"
    name: str


class ListenerTLS(K8sModel):
    mode: Literal["Terminate"] = "Terminate"
    certificate_refs: list[SecretObjectReference]


class Listener(K8sModel):
    name: str
    protocol: Literal["HTTP", "HTTPS"]
    port: int
    hostname: str | None = None
    tls: ListenerTLS | None = None
    allowed_routes: AllowedRoutes


class ParametersReference(K8sModel):
    group: str
    kind: str
    name: str


class GatewayInfrastructure(K8sModel):
    parameters_ref: ParametersReference | None = None


class GatewaySpec(K8sModel):
    gateway_class_name: str
    infrastructure: GatewayInfrastructure | None = None
    listeners: list[Listener]


class Gateway(CustomObject):
    api_version: ClassVar[str] = GATEWAY_API
    kind: ClassVar[str] = "Gateway"
    spec: GatewaySpec


class ParentReference(K8sModel):
    """A route's (or Flagger's gatewayRefs') reference to a Gateway listener."""

    group: str = "gateway.networking.k8s.io"
    kind: str = "Gateway"
    name: str
    namespace: str | None = None
    section_name: str | None = None


# ---------------------------------------------------------------- Envoy Gateway
class ResourceRequirements(K8sModel):
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None


class EnvoyContainer(K8sModel):
    resources: ResourceRequirements | None = None


class EnvoyDeployment(K8sModel):
    replicas: int | None = None
    container: EnvoyContainer | None = None


class KubernetesPatch(K8sModel):
    type: Literal["StrategicMerge", "JSONMerge"] = "StrategicMerge"
    value: dict[str, Any]


class EnvoyService(K8sModel):
    name: str | None = None
    type: Literal["LoadBalancer", "NodePort", "ClusterIP"]
    annotations: dict[str, str] | None = None
    external_traffic_policy: Literal["Local", "Cluster"] | None = None
    patch: KubernetesPatch | None = None


class EnvoyKubernetesProvider(K8sModel):
    envoy_deployment: EnvoyDeployment | None = None
    envoy_service: EnvoyService | None = None


class EnvoyProxyProvider(K8sModel):
    type: Literal["Kubernetes"] = "Kubernetes"
    kubernetes: EnvoyKubernetesProvider


class EnvoyProxySpec(K8sModel):
    provider: EnvoyProxyProvider


class EnvoyProxy(CustomObject):
    api_version: ClassVar[str] = ENVOY_GATEWAY
    kind: ClassVar[str] = "EnvoyProxy"
    spec: EnvoyProxySpec
