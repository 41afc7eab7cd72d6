"""Flagger's Canary (`flagger.app/v1beta1`), field names as in the upstream CRD schema."""
from __future__ import annotations

from typing import ClassVar, Literal

from components.models import CustomObject, K8sModel
from components.models.gateway import ParentReference

API_VERSION = "flagger.app/v1beta1"


class TargetRef(K8sModel):
    api_version: str = "apps/v1"
    kind: Literal["Deployment", "DaemonSet", "Service"] = "Deployment"
    name: str


class IngressRef(K8sModel):
    api_version: str = "networking.k8s.io/v1"
    kind: Literal["Ingress"] = "Ingress"
    name: str


class RouteRef(K8sModel):
    """An ApisixRoute, which the apisix provider routes through instead of an Ingress."""

    api_version: str = "apisix.apache.org/v2"
    kind: Literal["ApisixRoute"] = "ApisixRoute"
    name: str


class CanaryService(K8sModel):
    port: int
    target_port: int | None = None
    gateway_refs: list[ParentReference] | None = None
    hosts: list[str] | None = None


class ThresholdRange(K8sModel):
    min: float | None = None
    max: float | None = None


class TemplateRef(K8sModel):
    name: str
    namespace: str | None = None


class CanaryMetric(K8sModel):
    name: str
    threshold_range: ThresholdRange
    interval: str
    template_ref: TemplateRef | None = None


class CanaryWebhook(K8sModel):
    name: str
    type: Literal["pre-rollout", "rollout", "post-rollout"] | None = None
    url: str
    timeout: str
    metadata: dict[str, str] | None = None


class CanaryAnalysis(K8sModel):
    interval: str
    threshold: int
    max_weight: int | None = None
    step_weight: int | None = None
    iterations: int | None = None
    metrics: list[CanaryMetric]
    webhooks: list[CanaryWebhook] | None = None


class AutoscalerRef(K8sModel):
    api_version: str = "autoscaling/v2"
    kind: Literal["HorizontalPodAutoscaler"] = "HorizontalPodAutoscaler"
    name: str


class CanarySpec(K8sModel):
    target_ref: TargetRef
    autoscaler_ref: AutoscalerRef | None = None
    revert_on_deletion: bool | None = None
    progress_deadline_seconds: int
    service: CanaryService
    analysis: CanaryAnalysis
    ingress_ref: IngressRef | None = None
    route_ref: RouteRef | None = None


class Canary(CustomObject):
    api_version: ClassVar[str] = API_VERSION
    kind: ClassVar[str] = "Canary"
    spec: CanarySpec


class MetricProvider(K8sModel):
    type: Literal["prometheus"] = "prometheus"
    address: str


class MetricTemplateSpec(K8sModel):
    provider: MetricProvider
    query: str


class MetricTemplate(CustomObject):
    api_version: ClassVar[str] = API_VERSION
    kind: ClassVar[str] = "MetricTemplate"
    spec: MetricTemplateSpec
