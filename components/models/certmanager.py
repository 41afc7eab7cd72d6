"""cert-manager (`cert-manager.io/v1`) ClusterIssuer and Certificate, field names as in its CRD schemas."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from components.models import CustomObject, K8sModel
from components.models.gateway import ParentReference

API_VERSION = "cert-manager.io/v1"


class SecretKeySelector(K8sModel):
    name: str


class GatewayHTTPRouteSolver(K8sModel):
    parent_refs: list[ParentReference]
    # cert-manager's solver Service is a NodePort unless told otherwise (CRD: "If unset, defaults to
    # NodePort"): a random node port that could take one the platform sets later. The HTTPRoute reaches
    # it through the Gateway, so a ClusterIP is all it needs.
    service_type: Literal["ClusterIP", "NodePort"] | None = None


class Http01Solver(K8sModel):
    gateway_http_route: GatewayHTTPRouteSolver = Field(alias="gatewayHTTPRoute")


class AcmeSolver(K8sModel):
    http01: Http01Solver


class AcmeIssuer(K8sModel):
    server: str
    email: str
    private_key_secret_ref: SecretKeySelector
    solvers: list[AcmeSolver]


class SelfSignedIssuer(K8sModel):
    pass


class IssuerSpec(K8sModel):
    acme: AcmeIssuer | None = None
    self_signed: SelfSignedIssuer | None = None


class ClusterIssuer(CustomObject):
    api_version: ClassVar[str] = API_VERSION
    kind: ClassVar[str] = "ClusterIssuer"
    spec: IssuerSpec


class IssuerRef(K8sModel):
    group: str = "cert-manager.io"
    kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    name: str


class CertificateSpec(K8sModel):
    secret_name: str
    dns_names: list[str]
    issuer_ref: IssuerRef


class Certificate(CustomObject):
    api_version: ClassVar[str] = API_VERSION
    kind: ClassVar[str] = "Certificate"
    spec: CertificateSpec
