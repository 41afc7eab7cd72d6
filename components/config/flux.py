"""`gitops-platform:flux` and `gitops-platform:flagger`: image automation and canaries."""
from __future__ import annotations

import re

from pydantic import Field, field_validator

from components.config.base import Model, check_duration, check_git_ref
from components.config.tekton import EMAIL, check_known_hosts
from components.urls import check_url

FLUX_RECEIVER_TYPES = ("generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay",
                       "gcr", "nexus", "acr")


class FluxConfig(Model):
    push_branch: str = ""
    sync: bool = False
    interval: str = "1m"
    receiver_type: str | None = None     # webhook Receiver type; default from registry.server
    ssh_known_hosts: str | None = None   # for an ssh configRepo.url (default: tekton.sshKnownHosts)
    git_author_name: str = "fluxcdbot"
    git_author_email: str = "fluxcdbot@users.noreply.github.com"

    _interval = field_validator("interval")(classmethod(lambda cls, v: check_duration(v)))
    _push_branch = field_validator("push_branch")(classmethod(lambda cls, v: v and check_git_ref(v)))
    _known_hosts = field_validator("ssh_known_hosts")(
        classmethod(lambda cls, v: v if v is None else check_known_hosts(v)))

    @field_validator("git_author_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @field_validator("receiver_type")
    @classmethod
    def _receiver_type(cls, value: str | None) -> str | None:
        if value is not None and value not in FLUX_RECEIVER_TYPES:
            raise ValueError(f"{value!r} is not a Flux Receiver type (one of {', '.join(FLUX_RECEIVER_TYPES)})")
        return value


# Every -mesh-provider Flagger 1.44.0 knows (charts/flagger/values.yaml meshProvider; pkg/router/factory.go):
# an unknown value silently falls back to Istio, so only these are accepted.
MESH_PROVIDERS = ("kubernetes", "nginx", "istio", "linkerd", "appmesh", "appmesh:v1beta2", "contour", "gloo",
                  "skipper", "traefik", "apisix", "osm", "kuma", "knative", "gatewayapi:v1", "gatewayapi:v1beta1",
                  "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3")
# Providers whose Canary must name the object traffic enters through: an Ingress (nginx, skipper) or an
# ApisixRoute (apisix). contour, gloo and traefik generate their own routing objects; gatewayapi needs a
# Gateway instead (canary.gateway).
INGRESS_PROVIDERS = frozenset({"nginx", "skipper", "apisix"})


DEFAULT_SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")
LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                       r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


class FlaggerConfig(Model):
    # Default: gatewayapi:v1 through the platform Gateway (kubernetes, i.e. blue/green, without one).
    mesh_provider: str | None = None
    # Default: the platform installs a Prometheus that scrapes what the analysis queries.
    prometheus: str | None = None
    # The pod labels Flagger builds selectors from: a canary Deployment's spec.selector.matchLabels must
    # hold one of them (Flagger's default, cmd/flagger/main.go: app, name, app.kubernetes.io/name).
    selector_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_SELECTOR_LABELS))

    @field_validator("selector_labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name at least one label")
        bad = [k for k in value if len(k) > 316 or not LABEL_KEY.fullmatch(k)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a label key (prefix/name, like app.kubernetes.io/name)")
        return value

    @field_validator("mesh_provider")
    @classmethod
    def _provider(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value == "gatewayapi":
            # Flagger falls back to Istio for a bare "gatewayapi"; the API version must be explicit.
            return "gatewayapi:v1"
        if value not in MESH_PROVIDERS:
            raise ValueError(f"{value!r} is not a Flagger mesh provider (one of {', '.join(MESH_PROVIDERS)}); "
                             "Flagger would silently fall back to Istio")
        return value

    @field_validator("prometheus")
    @classmethod
    def _prometheus(cls, value: str | None) -> str | None:
        return value if value is None else check_url(value, "(the Prometheus server)", ("http", "https"))


class Features(Model):
    tekton: bool = True
    flux: bool = True
    flagger: bool = True
