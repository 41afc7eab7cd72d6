"""The one table of everything the platform installs, pinned to exact releases.

Every entry can be overridden per stack under `gitops-platform:versions` (for example to point the
release-manifest URLs at an air-gapped mirror). The defaults follow `../shared/schemas/README.md`:
the newest upstream releases whose API versions the platform emits.
"""
from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from components.grammars.reference import ReferenceError, parse_reference
from components.urls import check_url

# A tag is exact when it is a version (v1.2.3, 1.2.3, 1.2.3-alpine...) or a digest; never a
# floating name.
FLOATING_TAGS = frozenset({"latest", "stable", "main", "master", "edge", "nightly", "head", "dev"})


DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# An exact release: 1.2.3 or v1.2.3, optionally with a pre-release (1.2.3-rc.1); never a range.
EXACT_VERSION = re.compile(r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?")
# The OCI distribution spec's tag grammar.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; tag and digest None when absent."""
    name, _, digest = image.partition("@")
    head, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:  # no tag ("alpine", or the port of "host:5000/alpine")
        return name, None, digest or None
    return head, tag, digest or None


def image_is_pinned(image: str) -> bool:
    """True when `image` names an exact tag or a well-formed digest (name:tag, name@sha256:<64 hex>)."""
    name, tag, digest = split_image(image)
    if not name or "@" in image and not (digest and DIGEST.fullmatch(digest)):
        return False
    if digest:
        return tag is None or bool(TAG.fullmatch(tag))
    return tag is not None and bool(TAG.fullmatch(tag)) and tag.lower() not in FLOATING_TAGS \
        and any(ch.isdigit() for ch in tag)


def check_pinned_image(value: str) -> str:
    """Validator body: `value` unchanged, or ValueError naming why it is not pinned."""
    if "@" in value and not DIGEST.fullmatch(value.partition("@")[2]):
        raise ValueError(f"{value!r} has a malformed digest (a digest is sha256: and 64 hex characters)")
    if not image_is_pinned(value):
        raise ValueError(f"{value!r} is not pinned to an exact tag or digest")
    return value


def check_digest_pinned_image(value: str) -> str:
    """Validator body for the platform's own images: `name:tag@sha256:<64 hex>`, the tag for people and
    the digest for the machine."""
    _, tag, digest = split_image(value)
    if not image_is_pinned(value) or tag is None or digest is None:
        raise ValueError(f"{value!r} is not pinned as name:tag@sha256:<64 hex characters> (the tag says which "
                         "release it is; the digest is what is pulled)")
    return value


def url_is_pinned(url: str) -> bool:
    """True when a release-manifest URL names an exact version, not latest/stable/main."""
    parts = url.lower().replace("?", "/").replace("=", "/").split("/")
    if any(p in FLOATING_TAGS for p in parts):
        return False
    return any(p[:1] == "v" and p[1:2].isdigit() for p in parts) or any(p[:1].isdigit() for p in parts)


class Mirror(BaseModel):
    """Everything the platform fetches at install time from one mirror the user controls (air-gapped installs,
    README): `<url>/charts/` a classic Helm chart repository (index.yaml) holding every chart, Envoy Gateway's
    two included; `<url>/releases/tekton/<project>/previous/<version>/<file>` and
    `<url>/releases/flux/<controller>/releases/download/<version>/<file>`, the upstream release paths
    (../shared/mirror has exactly this layout). `caFile`: the CA bundle (PEM, a path on the machine that runs
    `pulumi up`) the provider's Helm client trusts for the chart fetches."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              alias_generator=lambda s: s.split("_")[0] + "".join(w.title() for w in s.split("_")[1:]))

    url: str
    ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        check_url(value, "", ("https",))
        return value.rstrip("/")

    @field_validator("ca_file")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(not ch.isprintable() for ch in value)):
            raise ValueError(f"{value!r} is not a file path")
        return value


CHART_REPOS = ("argocd_chart_repo", "flagger_chart_repo", "envoy_gateway_chart_repo", "cert_manager_chart_repo")


class Versions(BaseModel):
    """Pinned chart versions, release-manifest URLs and container images (camelCase keys in config)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=lambda s: s.split("_")[0] + "".join(w.title() for w in s.split("_")[1:]))

    # Argo CD: the argo-cd chart 10.1.1 ships Argo CD v3.4.4.
    argocd_chart: str = "argo-cd"
    # renovate: datasource=helm depName=argo-cd registryUrl=https://argoproj.github.io/argo-helm
    argocd_chart_version: str = "10.1.1"
    argocd_chart_repo: str = "https://argoproj.github.io/argo-helm"
    # renovate: datasource=github-releases depName=argoproj/argo-cd
    argocd_app_version: str = "v3.4.4"

    # The images the charts run (their defaults at the pinned chart versions), passed to the charts'
    # image values so they can be pinned by digest: `name:tag` or `name:tag@sha256:<64 hex>`, the tag
    # always (for people), the digest when known (what is pulled). The defaults carry tags only: their
    # digests cannot be read from this project's machines (no registry access), and a wrong digest fails
    # every pull; Renovate pins each one by digest in its first run (renovate.json, pinDigests), and an
    # air-gapped stack points them at its mirror. The Argo CD image's tag must be argocdAppVersion.
    # renovate: datasource=docker depName=quay.io/argoproj/argocd
    chart_image_argocd: str = "quay.io/argoproj/argocd:v3.4.4"
    # renovate: datasource=docker depName=ecr-public.aws.com/docker/library/redis
    chart_image_argocd_redis: str = "ecr-public.aws.com/docker/library/redis:8.2.3-alpine"

    # Tekton release manifests (infra.tekton.dev is where Tekton publishes pinned releases now).
    # renovate: datasource=github-releases depName=tektoncd/pipeline
    tekton_pipelines_version: str = "v1.15.0"
    # renovate: datasource=github-releases depName=tektoncd/triggers
    tekton_triggers_version: str = "v0.37.0"
    # renovate: datasource=github-releases depName=tektoncd/dashboard
    tekton_dashboard_version: str = "v0.71.0"
    tekton_release_base: str = "https://infra.tekton.dev/tekton-releases"

    # The controllers Flux v2.9.4 pins (fluxcd/flux2@v2.9.4:manifests/bases/*/kustomization.yaml).
    flux_release_base: str = "https://github.com/fluxcd"
    # renovate: datasource=github-releases depName=fluxcd/source-controller
    flux_source_controller: str = "v1.9.4"
    # renovate: datasource=github-releases depName=fluxcd/kustomize-controller
    flux_kustomize_controller: str = "v1.9.4"
    # renovate: datasource=github-releases depName=fluxcd/helm-controller
    flux_helm_controller: str = "v1.6.3"
    # renovate: datasource=github-releases depName=fluxcd/notification-controller
    flux_notification_controller: str = "v1.9.3"
    # renovate: datasource=github-releases depName=fluxcd/image-reflector-controller
    flux_image_reflector_controller: str = "v1.2.4"
    # renovate: datasource=github-releases depName=fluxcd/image-automation-controller
    flux_image_automation_controller: str = "v1.2.4"

    # Flagger and its load tester.
    flagger_chart: str = "flagger"
    # renovate: datasource=helm depName=flagger registryUrl=https://flagger.app
    flagger_chart_version: str = "1.44.0"
    flagger_chart_repo: str = "https://flagger.app"
    loadtester_chart: str = "loadtester"
    # renovate: datasource=helm depName=loadtester registryUrl=https://flagger.app
    loadtester_chart_version: str = "0.38.0"
    # renovate: datasource=docker depName=ghcr.io/fluxcd/flagger
    chart_image_flagger: str = "ghcr.io/fluxcd/flagger:1.44.0"
    # renovate: datasource=docker depName=ghcr.io/fluxcd/flagger-loadtester
    chart_image_loadtester: str = "ghcr.io/fluxcd/flagger-loadtester:0.38.0"

    # The platform Gateway: Envoy Gateway from its OCI charts. EG v1.9 is built against Gateway API v1.6.1
    # and supports Kubernetes 1.33-1.36 (envoyproxy/gateway@v1.9.0:site/content/en/news/releases/matrix.md).
    # Its CRD chart carries the Gateway API v1.6.1 standard channel (bundle-version v1.6.1, with the
    # safe-upgrades ValidatingAdmissionPolicy) and EG's own CRDs, so one pin keeps the two matched. The
    # charts are published both as v1.9.0 and 1.9.0 (.github/workflows/release.yaml); v1.9.0 is the tag.
    envoy_gateway_chart: str = "gateway-helm"
    envoy_gateway_crds_chart: str = "gateway-crds-helm"
    # renovate: datasource=docker depName=docker.io/envoyproxy/gateway-helm
    envoy_gateway_chart_version: str = "v1.9.0"
    envoy_gateway_chart_repo: str = "oci://docker.io/envoyproxy"
    # renovate: datasource=docker depName=docker.io/envoyproxy/gateway
    chart_image_envoy_gateway: str = "docker.io/envoyproxy/gateway:v1.9.0"
    # The Envoy the controller runs for the Gateway (EG v1.9.0's default, api/v1alpha1/shared_types.go),
    # set on the platform's EnvoyProxy.
    # renovate: datasource=docker depName=docker.io/envoyproxy/envoy
    chart_image_envoy: str = "docker.io/envoyproxy/envoy:distroless-v1.39.0"

    # cert-manager for the Gateway's HTTPS listeners (Gateway API support through config.gatewayAPI; the
    # chart's version is its git tag, make/manifests.mk).
    cert_manager_chart: str = "cert-manager"
    # renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
    cert_manager_chart_version: str = "v1.21.1"
    # renovate: datasource=docker depName=quay.io/jetstack/cert-manager-controller
    chart_image_cert_manager_controller: str = "quay.io/jetstack/cert-manager-controller:v1.21.1"
    # renovate: datasource=docker depName=quay.io/jetstack/cert-manager-webhook
    chart_image_cert_manager_webhook: str = "quay.io/jetstack/cert-manager-webhook:v1.21.1"
    # renovate: datasource=docker depName=quay.io/jetstack/cert-manager-cainjector
    chart_image_cert_manager_cainjector: str = "quay.io/jetstack/cert-manager-cainjector:v1.21.1"
    # renovate: datasource=docker depName=quay.io/jetstack/cert-manager-acmesolver
    chart_image_cert_manager_acmesolver: str = "quay.io/jetstack/cert-manager-acmesolver:v1.21.1"
    # renovate: datasource=docker depName=quay.io/jetstack/cert-manager-startupapicheck
    chart_image_cert_manager_startupapicheck: str = "quay.io/jetstack/cert-manager-startupapicheck:v1.21.1"
    cert_manager_chart_repo: str = "https://charts.jetstack.io"

    # The embedded dev stack (kind without configRepo): Gitea, rootless (uid 1000), and distribution's
    # registry (3.1.1, runs as root: the official image sets no USER).
    # renovate: datasource=docker depName=docker.io/gitea/gitea
    image_git_server: str = ("docker.io/gitea/gitea:1.27.3-rootless"
                             "@sha256:1c17ecaead42eb3b5391553d8708103a4beb0e86edf5b9ebc1eb269c318845f2")
    # renovate: datasource=docker depName=docker.io/library/registry
    image_registry: str = ("docker.io/library/registry:3.1.1"
                           "@sha256:1be55279f18a2fe1a74edf2664cac61c1bea305b7b4642dab412e7affdcb3e33")

    # The webhook relay client (webhooks.relay): gosmee, runs as uid 1001.
    # renovate: datasource=docker depName=ghcr.io/chmouel/gosmee
    image_relay: str = ("ghcr.io/chmouel/gosmee:v0.32.0"
                        "@sha256:60b8db1f68cc4b72366fff941fb2db9a53c3b7a94f23a5e45bd10a777cf7be2f")

    # The Prometheus the canary analysis queries (when flagger.prometheus is unset). Runs as nobody (65534).
    # renovate: datasource=docker depName=docker.io/prom/prometheus
    image_prometheus: str = ("docker.io/prom/prometheus:v3.15.0"
                             "@sha256:efd719c99d83b060d9daefdcf00360461adf279f45ef5391f8d111892118753e")

    # Images the platform's own Tekton tasks run: tag for people, digest for the machine. A tag alone
    # can be re-pushed (alpine/git is rebuilt weekly, the official images on every base update, quay's
    # skopeo `stable` daily), so the digest is what is pulled; the tag only says which release it is.
    # alpine/git v2.52.0: the digest tektoncd-catalog/git-clone@v1.7.0 pins in image/base/Dockerfile.
    # renovate: datasource=docker depName=docker.io/alpine/git
    image_git: str = ("docker.io/alpine/git:v2.52.0"
                      "@sha256:8786a6a02273827d0aa039d174aacd5e017fcce9aba0af62596d991970cab01a")
    # The official image's multi-arch index for 3.13.15-alpine3.24 (API steps: standard library only).
    # renovate: datasource=docker depName=docker.io/library/python
    image_python: str = ("docker.io/library/python:3.13.15-alpine3.24"
                         "@sha256:79e7a9b9ff1cbceff819f856fb374477792a5967759d94df266de7b7b4120e6f")
    # `-immutable` tags are never re-pushed (containers/image_build README), unlike `stable:v1.22.2`.
    # renovate: datasource=docker depName=quay.io/skopeo/stable
    image_skopeo: str = ("quay.io/skopeo/stable:v1.22.2-immutable"
                         "@sha256:4a16d57b37617a04b3d643079a477a2848efe892dffcdf0ce56df4262b65f810")
    # renovate: datasource=docker depName=docker.io/library/alpine
    image_test_runner: str = ("docker.io/library/alpine:3.24.2"
                              "@sha256:294b683cb724975bec92580e1e685676bd4b50bda910ddb8c51d4cabeaec77e6")
    # The maintained kaniko fork (GoogleContainerTools/kaniko was archived in June 2025): the executor
    # tektoncd-catalog/kaniko@v1.0.0 pins as its BUILDER_IMAGE default. No privileges, runs as uid 0.
    # renovate: datasource=docker depName=ghcr.io/osscontainertools/kaniko
    image_kaniko: str = ("ghcr.io/osscontainertools/kaniko:v1.27.6"
                         "@sha256:95779f52d460ca70b65a4f4679d4f5163ad6c33edea3303dc8bbff847de5e05c")
    # The git-init image of tektoncd-catalog/git-clone v1.7.0 (its `gitInitImage` default). Its release
    # digest is published nowhere we could read offline: set `versions.imageGitClone` to
    # `...:v1.7.0@sha256:<crane digest ghcr.io/tektoncd-catalog/git-clone:v1.7.0>` to pin it by digest.
    image_git_clone: str = "ghcr.io/tektoncd-catalog/git-clone:v1.7.0"

    # The maintained successors of the deprecated tektoncd/catalog tasks, fetched by the git resolver at
    # their release commits (a tag could move; a commit cannot).
    git_clone_task_url: str = "https://github.com/tektoncd-catalog/git-clone.git"
    git_clone_task_revision: str = "c166e56217829ecc2062059030a8a0fcc0e1a88f"  # tag v1.7.0 (2026-06-05)
    kaniko_task_url: str = "https://github.com/tektoncd-catalog/kaniko.git"
    kaniko_task_revision: str = "362fc28c2ec7cedc40150579c5f27881a60ea714"     # tag v1.0.0 (2026-07-03)

    # kind: node images are built for one kind release and pinned by digest (kind's configuration docs:
    # "include the @sha256: image digest"). v1.35.5 is in kind v0.32.0's release image list; Kubernetes
    # 1.35 is in upstream support until 2027-02-28 and in EKS standard support until 2027-03-27.
    # renovate: datasource=github-releases depName=kubernetes-sigs/kind
    kind_version: str = "v0.32.0"
    # renovate: datasource=docker depName=docker.io/kindest/node
    kind_node_image: str = ("kindest/node:v1.35.5"
                            "@sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95")

    # Everything from one mirror (class Mirror): the chart repositories and release bases not set one by one.
    mirror: Mirror | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _exact(cls, value, info):
        name = info.field_name
        if name == "mirror":
            return value
        if not isinstance(value, str):
            # YAML reads 1.35 or 10.1 as numbers; a version must be written as the string it is.
            raise ValueError(f"must be a string (quote it), got {type(value).__name__} {value!r}")
        if not value or any(ch.isspace() or not ch.isprintable() for ch in value):
            raise ValueError(f"{value!r} must be a non-empty value without spaces or control characters")
        if "$(" in value:
            # Tekton substitutes $(...) in every param and step it reaches (task URLs, images).
            raise ValueError(f"{value!r} contains '$(', which Tekton would substitute as a variable")
        if name == "image_git_clone":
            check_pinned_image(value)
        elif name.startswith("chart_image_"):
            check_pinned_image(value)
            if split_image(value)[1] is None:
                raise ValueError(f"{value!r} has no tag (name:tag or name:tag@sha256:<64 hex>: the tag says which "
                                 "release it is)")
        elif name.startswith("image_") or name == "kind_node_image":
            check_digest_pinned_image(value)
        if name.startswith(("image_", "chart_image_")) or name == "kind_node_image":
            try:
                parse_reference(value)
            except ReferenceError as err:
                raise ValueError(f"{value!r} {err}") from None
        elif name.endswith(("_version", "_controller")):
            if not EXACT_VERSION.fullmatch(value):
                raise ValueError(f"{value!r} is not an exact version like 1.2.3 or v1.2.3 (no ranges such as "
                                 "^1.2.0 or ~1.2, no partial versions)")
        elif name.endswith("_revision"):
            # A tag of a task repository can move; the pipelines' task references must not.
            if not re.fullmatch(r"[0-9a-f]{40}", value):
                raise ValueError(f"{value!r} is not a full 40-character commit SHA")
        elif name.endswith("_chart"):
            if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", value):
                raise ValueError(f"{value!r} is not a Helm chart name")
        elif name.endswith("_chart_repo"):
            check_url(value, "", ("https", "oci"))
        elif name.endswith(("_url", "_base")):
            check_url(value, "", ("https",))
            if not url_is_pinned(value + "/v0") or any(p.lower() in FLOATING_TAGS for p in value.split("/")):
                raise ValueError(f"{value!r} follows a floating name (latest, stable, main...)")
        return value

    @model_validator(mode="after")
    def _from_the_mirror(self):
        if self.mirror is not None:
            derived = {**{repo: f"{self.mirror.url}/charts" for repo in CHART_REPOS},
                       "tekton_release_base": f"{self.mirror.url}/releases/tekton",
                       "flux_release_base": f"{self.mirror.url}/releases/flux"}
            for field, value in derived.items():
                if field not in self.model_fields_set:   # a setting of its own wins over the mirror
                    object.__setattr__(self, field, value)
        return self

    def repository_opts(self, repo: str | None, helm=None):
        """The Helm release's repository options for a classic repository (None for an OCI reference), with the
        mirror's CA bundle (pulumi-kubernetes RepositoryOpts.caFile). `helm`: k8s.helm.v3 (default) or v4."""
        if repo is None:
            return None
        if helm is None:
            import pulumi_kubernetes as k8s
            helm = k8s.helm.v3
        ca = self.mirror.ca_file if self.mirror is not None else None
        if ca and helm.__name__.endswith(".v4"):
            import pulumi
            # helm.sh/v4 Chart takes the CA as an asset (the provider's schema: caFile is
            # pulumi.json#/Asset), helm.sh/v3 Release as a path: found by the real provider
            # ("cannot unmarshal into non-empty interface type pulumi.AssetOrArchive").
            return helm.RepositoryOptsArgs(repo=repo, ca_file=pulumi.FileAsset(os.path.expanduser(ca)))
        return helm.RepositoryOptsArgs(repo=repo, ca_file=os.path.expanduser(ca) if ca else None)

    @model_validator(mode="after")
    def _argocd_image_matches_its_version(self):
        if "chart_image_argocd" not in self.model_fields_set and "argocd_app_version" in self.model_fields_set:
            # A stack that moves argocdAppVersion alone gets that release's image.
            name = split_image(type(self).model_fields["chart_image_argocd"].default)[0]
            object.__setattr__(self, "chart_image_argocd", f"{name}:{self.argocd_app_version}")
        tag = split_image(self.chart_image_argocd)[1]
        if tag != self.argocd_app_version:
            raise ValueError(f"chartImageArgocd has tag {tag}, argocdAppVersion is {self.argocd_app_version}: "
                             "the Argo CD image must be the release the CRDs come from")
        return self

    def chart_image(self, field: str) -> dict[str, str]:
        """A chart image as the charts' `{repository, tag}` values, the digest (if any) after the tag:
        every chart here renders `repository:tag`, so `tag@sha256:...` gives `repository:tag@sha256:...`."""
        name, tag, digest = split_image(getattr(self, field))
        return {"repository": name, "tag": f"{tag}@{digest}" if digest else tag}

    # Release-manifest URLs, derived so that a mirror only has to override the base.
    def tekton_release(self, project: str, version: str, file: str = "release.yaml") -> str:
        return f"{self.tekton_release_base}/{project}/previous/{version}/{file}"

    def chart_reference(self, repo: str, chart: str) -> tuple[str, str | None]:
        """(chart, repository) for a Helm release: an OCI repository is part of the chart reference
        (`oci://host/path/chart`), a classic one is the release's repository option."""
        return (f"{repo.rstrip('/')}/{chart}", None) if repo.startswith("oci://") else (chart, repo)

    @property
    def tekton_pipelines_url(self) -> str:
        return self.tekton_release("pipeline", self.tekton_pipelines_version)

    @property
    def tekton_triggers_url(self) -> str:
        return self.tekton_release("triggers", self.tekton_triggers_version)

    @property
    def tekton_interceptors_url(self) -> str:
        return self.tekton_release("triggers", self.tekton_triggers_version, "interceptors.yaml")

    @property
    def tekton_dashboard_url(self) -> str:
        return self.tekton_release("dashboard", self.tekton_dashboard_version)


PINNED = Versions()
