"""`gitops-platform:gateway`: the platform's one Gateway API entry point (apps, and later webhooks and UIs)."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import Model, PlatformConfigErrors, dns_label
from components.config.flux import LABEL_KEY
from components.urls import check_url

DOMAIN = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# A Kubernetes annotation key: an optional DNS prefix and a name (apimachinery IsQualifiedName).
ANNOTATION_KEY = LABEL_KEY


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


class TlsConfig(Model):
    """How the Gateway's HTTPS listeners (argocd.<domain>, hooks.<domain>) get their certificate."""

    # letsencrypt: cert-manager, ACME HTTP-01 through the Gateway; selfsigned: cert-manager's self-signed
    # issuer; none: plain HTTP. Default: none on kind, letsencrypt elsewhere. `secretName` instead: a
    # kubernetes.io/tls Secret you put in gateway-system yourself (covering both hostnames).
    issuer: Literal["letsencrypt", "selfsigned", "none"] | None = None
    email: str | None = None             # the ACME account's contact; required for letsencrypt
    acme_server: str = LETSENCRYPT       # e.g. Let's Encrypt staging, or a private ACME CA
    secret_name: str | None = None

    _secret = field_validator("secret_name")(
        classmethod(lambda cls, v: v if v is None else dns_label("Secret name")(v)))

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 254 or not EMAIL.fullmatch(value)):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("acme_server")
    @classmethod
    def _acme(cls, value: str) -> str:
        return check_url(value, "(the ACME directory)", ("https",))

    @model_validator(mode="after")
    def _one_source(self):
        if self.secret_name and self.issuer not in (None, "none"):
            raise PlatformConfigErrors([("secretName", f"and issuer {self.issuer!r} both say where the certificate "
                                         "comes from; set one")])
        return self


class GatewayConfig(Model):
    enabled: bool = True
    # App hostnames are <app>.<domain>. Default on kind: `localhost` (RFC 6761 reserves *.localhost for the
    # loopback address: curl and browsers resolve web.localhost to 127.0.0.1 with no /etc/hosts entry);
    # elsewhere `<environment>.gitops.internal` until a real domain is set.
    domain: str | None = None
    host_port: int = Field(8000, ge=1, le=65535)    # kind: the host port of the Gateway's HTTP listener
    # How the Gateway's Envoy is exposed: default NodePort on kind (mapped to hostPort), LoadBalancer
    # elsewhere (on EKS an NLB through the in-tree AWS cloud provider).
    service_type: Literal["LoadBalancer", "NodePort", "ClusterIP"] | None = None
    service_annotations: dict[str, str] = Field(default_factory=dict)   # e.g. an internal load balancer
    # Install Gateway API's standard CRDs (v1.6.1, from Envoy Gateway's CRD chart). false when the
    # cluster's provider already owns compatible ones (GKE with Gateway API enabled, for instance).
    gateway_api_crds: bool = True
    # An existing GatewayClass (another implementation the cluster runs) instead of installing Envoy
    # Gateway; then the platform creates only its Gateway and routes.
    class_name: str | None = None
    tls: TlsConfig = TlsConfig()
    https_host_port: int = Field(8443, ge=1, le=65535)   # kind with TLS: the host port of the HTTPS listeners

    _class = field_validator("class_name")(
        classmethod(lambda cls, v: v if v is None else dns_label("GatewayClass name")(v)))

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 200 or not DOMAIN.fullmatch(value)):
            raise ValueError(f"{value!r} is not a DNS domain like apps.example.com (lower-case, no wildcard, "
                             "no trailing dot, at most 200 characters so that <app>.<domain> fits)")
        if value is not None and max(len(label) for label in value.split(".")) > 63:
            raise ValueError(f"{value!r} has a DNS label over 63 characters")
        return value

    @field_validator("service_annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if len(k) > 316 or not ANNOTATION_KEY.fullmatch(k)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an annotation key (prefix/name, like "
                             "service.beta.kubernetes.io/aws-load-balancer-internal)")
        # The API server's limit on all of an object's annotations together (apimachinery
        # pkg/api/validation/objectmeta.go: TotalAnnotationSizeLimitB = 256 KiB).
        total = sum(len(k) + len(v) for k, v in value.items())
        if total > 256 * 1024:
            raise ValueError(f"the annotations add up to {total} bytes, over the API server's 262144")
        return value
