"""Flux custom resources: GitRepository (`source.toolkit.fluxcd.io/v1`), ImageRepository, ImagePolicy and
ImageUpdateAutomation (`image.toolkit.fluxcd.io/v1`) and Receiver (`notification.toolkit.fluxcd.io/v1`).

Field names follow the upstream CRD schemas in `../shared/schemas`. The image API is `v1`: the seeds'
`v1beta1` no longer exists, and in `v1` the commit template data is `.Changed`, not `.Updated`.
"""
from __future__ import annotations

from typing import ClassVar, Literal

from components.models import CustomObject, K8sModel

SOURCE_API = "source.toolkit.fluxcd.io/v1"
IMAGE_API = "image.toolkit.fluxcd.io/v1"
NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1"


class LocalRef(K8sModel):
    name: str


class NamespacedRef(K8sModel):
    name: str
    namespace: str | None = None


# ---------------------------------------------------------------- GitRepository
class GitRef(K8sModel):
    branch: str | None = None
    tag: str | None = None
    commit: str | None = None


class GitRepositorySpec(K8sModel):
    url: str
    interval: str
    ref: GitRef | None = None
    secret_ref: LocalRef | None = None
    timeout: str | None = None


class GitRepository(CustomObject):
    api_version: ClassVar[str] = SOURCE_API
    kind: ClassVar[str] = "GitRepository"
    spec: GitRepositorySpec


# ---------------------------------------------------------------- ImageRepository
class ImageRepositorySpec(K8sModel):
    image: str
    interval: str
    secret_ref: LocalRef | None = None
    provider: Literal["generic", "aws", "azure", "gcp"] | None = None


class ImageRepository(CustomObject):
    api_version: ClassVar[str] = IMAGE_API
    kind: ClassVar[str] = "ImageRepository"
    spec: ImageRepositorySpec


# ---------------------------------------------------------------- ImagePolicy
class SemVerPolicy(K8sModel):
    range: str


class OrderPolicy(K8sModel):
    order: Literal["asc", "desc"] = "asc"


class ImagePolicyChoice(K8sModel):
    """Exactly one of the three orderings Flux knows."""

    semver: SemVerPolicy | None = None
    alphabetical: OrderPolicy | None = None
    numerical: OrderPolicy | None = None


class TagFilter(K8sModel):
    pattern: str
    extract: str | None = None


class ImagePolicySpec(K8sModel):
    image_repository_ref: NamespacedRef
    policy: ImagePolicyChoice
    filter_tags: TagFilter | None = None


class ImagePolicy(CustomObject):
    api_version: ClassVar[str] = IMAGE_API
    kind: ClassVar[str] = "ImagePolicy"
    spec: ImagePolicySpec


# ---------------------------------------------------------------- ImageUpdateAutomation
class CommitAuthor(K8sModel):
    name: str
    email: str


class CommitSpec(K8sModel):
    author: CommitAuthor
    message_template: str
    message_template_values: dict[str, str] | None = None


class CheckoutSpec(K8sModel):
    ref: GitRef


class PushSpec(K8sModel):
    branch: str


class GitUpdateSpec(K8sModel):
    checkout: CheckoutSpec
    commit: CommitSpec
    push: PushSpec


class UpdateStrategy(K8sModel):
    path: str
    strategy: Literal["Setters"] = "Setters"


class SourceRef(K8sModel):
    kind: Literal["GitRepository"] = "GitRepository"
    name: str
    namespace: str | None = None


class ImageUpdateAutomationSpec(K8sModel):
    interval: str
    source_ref: SourceRef
    git: GitUpdateSpec
    update: UpdateStrategy


class ImageUpdateAutomation(CustomObject):
    api_version: ClassVar[str] = IMAGE_API
    kind: ClassVar[str] = "ImageUpdateAutomation"
    spec: ImageUpdateAutomationSpec


# ---------------------------------------------------------------- Receiver
class ReceiverResource(K8sModel):
    api_version: str | None = None
    kind: Literal["GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation"]
    name: str
    namespace: str | None = None
    match_labels: dict[str, str] | None = None


class ReceiverSpec(K8sModel):
    type: Literal["generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay",
                  "gcr", "nexus", "acr"]
    resources: list[ReceiverResource]
    secret_ref: LocalRef
    events: list[str] | None = None
    interval: str | None = None


class Receiver(CustomObject):
    api_version: ClassVar[str] = NOTIFICATION_API
    kind: ClassVar[str] = "Receiver"
    spec: ReceiverSpec
