"""Typed models of the custom resources the platform emits.

Each model serialises to the exact upstream shape (camelCase keys, no `None`s). Unknown fields are a
Python error when the model is built, so a typo can never become a field the API server drops.
"""
from __future__ import annotations

from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


class K8sModel(BaseModel):
    """Base of every typed CR part: camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=camel,
                              arbitrary_types_allowed=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="python")


class ObjectMeta(K8sModel):
    name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None


class CustomObject(K8sModel):
    """A custom resource: subclasses set `api_version` and `kind` and declare `spec`."""

    api_version: ClassVar[str]
    kind: ClassVar[str]
    metadata: ObjectMeta

    def manifest(self) -> dict[str, Any]:
        return {"apiVersion": self.api_version, "kind": self.kind, **self.dump()}


def custom_resource(resource_name: str, obj: CustomObject,
                    opts: pulumi.ResourceOptions | None = None) -> k8s.apiextensions.CustomResource:
    """Register `obj` as a Kubernetes custom resource."""
    body = obj.dump()
    metadata = body.pop("metadata")
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=obj.api_version, kind=obj.kind, metadata=metadata, opts=opts, **body)


LABELS = {"app.kubernetes.io/managed-by": "gitops-platform"}

# How long a Helm release may take to become ready (every `helm.v3.Release` sets it). The provider's
# default is 300 s (pulumi-kubernetes provider/pkg/provider/helm_release.go, defaultTimeoutSeconds),
# which a cold kind start exceeds: the first pull of Argo CD's images alone takes minutes on a laptop
# line. Fifteen minutes fits a cold start; a broken install still fails with Helm's own reason.
HELM_TIMEOUT = 900

POD_SECURITY = "pod-security.kubernetes.io"


def pod_security(enforce: str) -> dict[str, str]:
    """Pod Security admission labels of a namespace: pods that break `enforce` are refused; `warn`
    (shown to whoever applies them) and `audit` (in the API server's audit log) at `restricted`, so what
    keeps a namespace below restricted is visible. The level's version follows the cluster's (no
    `enforce-version`: the checks of the Kubernetes release that runs it)."""
    return {f"{POD_SECURITY}/enforce": enforce, f"{POD_SECURITY}/warn": "restricted",
            f"{POD_SECURITY}/audit": "restricted"}
