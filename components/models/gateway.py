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


class LabelSelectorRequirement(K8sModel):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(K8sModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


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


class PathMatch(K8sModel):
    type: Literal["PathPrefix", "Exact"] = "PathPrefix"
    value: str


class RouteMatch(K8sModel):
    path: PathMatch


class PathRewrite(K8sModel):
    type: Literal["ReplacePrefixMatch", "ReplaceFullPath"] = "ReplacePrefixMatch"
    replace_prefix_match: str | None = None


class URLRewrite(K8sModel):
    path: PathRewrite


class RouteFilter(K8sModel):
    type: Literal["URLRewrite"] = "URLRewrite"
    url_rewrite: URLRewrite


class BackendRef(K8sModel):
    name: str
    port: int


class RouteRule(K8sModel):
    matches: list[RouteMatch]
    filters: list[RouteFilter] | None = None
    backend_refs: list[BackendRef]


class HTTPRouteSpec(K8sModel):
    parent_refs: list[ParentReference]
    hostnames: list[str]
    rules: list[RouteRule]


class HTTPRoute(CustomObject):
    api_version: ClassVar[str] = GATEWAY_API
    kind: ClassVar[str] = "HTTPRoute"
    spec: HTTPRouteSpec


# ---------------------------------------------------------------- Envoy Gateway
class ResourceRequirements(K8sModel):
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None


class EnvoyContainer(K8sModel):
    image: str | None = None
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


class PolicyTargetRef(K8sModel):
    group: str = "gateway.networking.k8s.io"
    kind: Literal["Gateway", "HTTPRoute"]
    name: str
    section_name: str | None = None


class RateLimitValue(K8sModel):
    requests: int
    unit: Literal["Second", "Minute", "Hour"]


class LocalRateLimitRule(K8sModel):
    limit: RateLimitValue


class LocalRateLimit(K8sModel):
    rules: list[LocalRateLimitRule]


class RateLimitSpec(K8sModel):
    # `type: Local` is deprecated in v1.9.0: set `local` directly (api/v1alpha1/ratelimit_types.go).
    local: LocalRateLimit


class BackendTrafficPolicySpec(K8sModel):
    target_refs: list[PolicyTargetRef]
    rate_limit: RateLimitSpec


class BackendTrafficPolicy(CustomObject):
    api_version: ClassVar[str] = ENVOY_GATEWAY
    kind: ClassVar[str] = "BackendTrafficPolicy"
    spec: BackendTrafficPolicySpec
