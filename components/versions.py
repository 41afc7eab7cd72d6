"""The one table of everything the platform installs, pinned to exact releases.

Every entry can be overridden per stack under `gitops-platform:versions` (for example to point the
release-manifest URLs at an air-gapped mirror). The defaults follow `../shared/schemas/README.md`:
the newest upstream releases whose API versions the platform emits.
"""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

# A tag is exact when it is a version (v1.2.3, 1.2.3, 1.2.3-alpine...) or a digest; never a
# floating name.
FLOATING_TAGS = frozenset({"latest", "stable", "main", "master", "edge", "nightly", "head", "dev"})


def image_is_pinned(image: str) -> bool:
    """True when `image` names an exact tag or a digest (registry/name:tag or name@sha256:...)."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag at all ("alpine" or "host:5000/alpine")
        return False
    return tag.lower() not in FLOATING_TAGS and any(ch.isdigit() for ch in tag)


def check_pinned_image(value: str) -> str:
    """Validator body: `value` unchanged, or ValueError naming why it is not pinned."""
    if not image_is_pinned(value):
        raise ValueError(f"{value!r} is not pinned to an exact tag or digest")
    return value


def url_is_pinned(url: str) -> bool:
    """True when a release-manifest URL names an exact version, not latest/stable/main."""
    parts = url.lower().replace("?", "/").replace("=", "/").split("/")
    if any(p in FLOATING_TAGS for p in parts):
        return False
    return any(p[:1] == "v" and p[1:2].isdigit() for p in parts) or any(p[:1].isdigit() for p in parts)


class Versions(BaseModel):
    """Pinned chart versions, release-manifest URLs and container images (camelCase keys in config)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=lambda s: s.split("_")[0] + "".join(w.title() for w in s.split("_")[1:]))

    # Argo CD: the argo-cd chart 10.1.1 ships Argo CD v3.4.4.
    argocd_chart: str = "argo-cd"
    argocd_chart_version: str = "10.1.1"
    argocd_chart_repo: str = "https://argoproj.github.io/argo-helm"
    argocd_app_version: str = "v3.4.4"

    # Tekton release manifests (infra.tekton.dev is where Tekton publishes pinned releases now).
    tekton_pipelines_version: str = "v1.15.0"
    tekton_triggers_version: str = "v0.37.0"
    tekton_dashboard_version: str = "v0.71.0"
    tekton_release_base: str = "https://infra.tekton.dev/tekton-releases"

    # Flux v2.9.4 and the controllers it pins.
    flux_version: str = "v2.9.4"
    flux_release_base: str = "https://github.com/fluxcd"
    flux_source_controller: str = "v1.9.4"
    flux_kustomize_controller: str = "v1.9.4"
    flux_helm_controller: str = "v1.6.3"
    flux_notification_controller: str = "v1.9.3"
    flux_image_reflector_controller: str = "v1.2.4"
    flux_image_automation_controller: str = "v1.2.4"

    # Flagger and its load tester.
    flagger_chart: str = "flagger"
    flagger_chart_version: str = "1.44.0"
    flagger_chart_repo: str = "https://flagger.app"
    loadtester_chart: str = "loadtester"
    loadtester_chart_version: str = "0.38.0"

    # Images used by the platform's own Tekton tasks (exact tags).
    image_git: str = "docker.io/alpine/git:2.49.1"
    image_kustomize: str = "registry.k8s.io/kustomize/kustomize:v5.7.1"
    image_yq: str = "docker.io/mikefarah/yq:4.47.1"
    image_curl: str = "docker.io/curlimages/curl:8.15.0"
    image_argocd: str = "quay.io/argoproj/argocd:v3.4.4"
    image_skopeo: str = "quay.io/skopeo/stable:v1.20.0"
    image_test_runner: str = "docker.io/library/alpine:3.22.1"

    # Tekton catalog tasks through the git resolver, at a fixed catalog commit.
    tekton_catalog_url: str = "https://github.com/tektoncd/catalog.git"
    # tektoncd/catalog main on 2026-07-03 ("ci: only run catlin validate when a resource manifest changes"),
    # which has task/git-clone/0.10 and task/kaniko/0.7.
    tekton_catalog_revision: str = "55dd80ef1b83861613dce9080dfdf6656f1aecd4"

    # kind node image for the dev cluster default (the cluster section can override it too).
    kind_node_image: str = "kindest/node:v1.33.1"

    @field_validator("*")
    @classmethod
    def _not_floating(cls, value: str, info):
        name = info.field_name
        if not value or any(ch.isspace() or not ch.isprintable() for ch in value):
            raise ValueError(f"{value!r} must be a non-empty value without spaces or control characters")
        if name.startswith("image_") or name == "kind_node_image":
            check_pinned_image(value)
        elif name.endswith("_version") or name.endswith("_controller"):
            if value.lower() in FLOATING_TAGS or not any(c.isdigit() for c in value):
                raise ValueError(f"{value!r} is not an exact version")
        elif name == "tekton_catalog_revision" and not re.fullmatch(r"[0-9a-f]{40}", value):
            # A tag of the catalog repo can move; the pipelines' task references must not.
            raise ValueError(f"{value!r} is not a full 40-character commit SHA of the Tekton catalog")
        elif name.endswith("_revision") and (value.lower() in FLOATING_TAGS or len(value) < 7):
            raise ValueError(f"{value!r} is not a fixed revision (use a commit SHA or tag)")
        return value

    # Release-manifest URLs, derived so that a mirror only has to override the base.
    def tekton_release(self, project: str, version: str, file: str = "release.yaml") -> str:
        return f"{self.tekton_release_base}/{project}/previous/{version}/{file}"

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
