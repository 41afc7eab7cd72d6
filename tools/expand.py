"""Every object a stack installs besides its own: its Helm releases and charts expanded with the real Helm engine
(tools/charts.py), and its release-manifest installs (yaml/v2 ConfigFile and ConfigGroup `file`/`files`: the
Tekton releases, the Flux controllers' assets) read from their URLs or a mirror, with the transform the program
applies to them.

Sources, for charts and release manifests alike:
- nothing given: where the program points the Kubernetes provider (the chart repositories, oci://, the release
  URLs), fetched now; needs the network.
- a directory: charts as `<name>-<version>.tgz` (../shared/mirror/charts), release manifests laid out by the
  paths the program builds (../shared/mirror/releases: `tekton/<project>/previous/<version>/<file>`,
  `flux/<controller>/releases/download/<version>/<file>`).
- an http(s) URL: a Helm chart repository (`helm template --repo`), or the base of a release mirror laid out as
  above; trust a private CA with SSL_CERT_FILE (Helm is Go: it honours it; so does the fetch here).

Every expanded object carries `render.gitops-platform/from: <namespace>/<release> (<source>)`, and namespaced
objects without a namespace get the one they would be applied into (the release's; `default` for a ConfigFile,
the provider's default namespace), so names and ports can be compared across the whole cluster.
"""
from __future__ import annotations

import os
import re
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from components.flux import place_controller_object
from tools import charts
from tools.charts import FROM, ChartError
from tools.mockrun import Registration, RunResult

CONFIG_TYPES = ("kubernetes:yaml/v2:ConfigFile", "kubernetes:yaml/v2:ConfigGroup")
# The release paths the program builds (components/versions.py tekton_*_url, components/flux.py release_asset),
# whatever base URL a stack gives them: the part a mirror keeps.
TEKTON_PATH = re.compile(r"/(?P<path>[^/]+/previous/[^/]+/[^/]+)$")
FLUX_PATH = re.compile(r"/(?P<path>[^/]+/releases/download/[^/]+/[^/]+)$")
FLUX_DEPLOYMENT = re.compile(r"/releases/download/[^/]+/[^/]+\.deployment\.yaml$")

# Built-in kinds with no namespace (kubectl api-resources --namespaced=false, Kubernetes 1.35); CRDs in the render
# add their own `scope: Cluster` kinds.
CLUSTER_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "PriorityClass", "RuntimeClass",
    "IngressClass", "FlowSchema", "PriorityLevelConfiguration", "CertificateSigningRequest", "DeviceClass",
    "ComponentStatus", "ClusterTrustBundle", "VolumeAttributesClass"})


class SourceError(RuntimeError):
    pass


def mirror_path(url: str) -> str:
    """Where a release URL the program builds lives in a mirror: `tekton/…` or `flux/…`."""
    if "/releases/download/" in url and (m := FLUX_PATH.search(url)):
        return "flux/" + m["path"]
    if "/previous/" in url and (m := TEKTON_PATH.search(url)):
        return "tekton/" + m["path"]
    raise SourceError(f"{url}: not a Tekton or Flux release URL the program builds; no mirror path for it")


def _fetch(url: str) -> str:
    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or None)
    try:
        with urllib.request.urlopen(url, timeout=60, context=context) as response:  # noqa: S310 (http(s) only)
            return response.read().decode()
    except OSError as err:
        raise SourceError(f"{url}: {err}") from err


def read_release(url: str, source: str | None) -> str:
    """The text of one release manifest, from its URL or from the mirror `source` (directory or base URL)."""
    if not url.startswith(("https://", "http://")):
        raise SourceError(f"{url}: the program fetches release manifests over http(s) only")
    if source is None:
        return _fetch(url)
    path = mirror_path(url)
    if source.startswith(("https://", "http://")):
        return _fetch(f"{source.rstrip('/')}/{path}")
    file = Path(source) / path
    if not file.is_file():
        raise SourceError(f"{url}: not in the mirror {source} (expected {file})")
    return file.read_text()


def release_files(reg: Registration) -> list[str]:
    if reg.type == "kubernetes:yaml/v2:ConfigFile":
        return [reg.inputs["file"]]
    files = reg.inputs.get("files") or []
    return [files] if isinstance(files, str) else list(files)


def expand_config(reg: Registration, source: str | None) -> list[dict[str, Any]]:
    if reg.inputs.get("yaml") or reg.inputs.get("objs"):
        raise SourceError(f"{reg.name}: inline yaml/objs in a ConfigGroup are not expanded (the program has none)")
    docs = []
    for url in release_files(reg):
        origin = f"{reg.name} ({mirror_path(url)})"
        for doc in yaml.safe_load_all(read_release(url, source)):
            if not doc:
                continue
            # The one transform the program gives a release manifest: the Flux controllers' deployment assets
            # (components/flux.py FluxInstall, transforms=[_place_in_flux_system]).
            if FLUX_DEPLOYMENT.search(url):
                doc = place_controller_object(doc) or doc
            metadata = doc.get("metadata") or {}
            metadata["annotations"] = {**(metadata.get("annotations") or {}), FROM: origin}
            doc["metadata"] = metadata
            docs.append(doc)
    return docs


def place(placed: list[tuple[dict[str, Any], str]], platform: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give namespaced objects without a namespace the one they are applied into."""
    cluster_kinds = set(CLUSTER_KINDS)
    for doc in [*platform, *(d for d, _ in placed)]:
        if doc.get("kind") == "CustomResourceDefinition" and (doc.get("spec") or {}).get("scope") == "Cluster":
            cluster_kinds.add(doc["spec"]["names"]["kind"])
    for doc, namespace in placed:
        if doc.get("kind") not in cluster_kinds and not doc["metadata"].get("namespace"):
            doc["metadata"]["namespace"] = namespace
    return [d for d, _ in placed]


def expand(result: RunResult, platform: list[dict[str, Any]], chart_source: str | None,
           release_source: str | None, helm: str) -> list[dict[str, Any]]:
    """Every object the stack's Helm releases, charts and release-manifest installs create, in the order the
    program registers them."""
    placed: list[tuple[dict[str, Any], str]] = []
    for reg in result.resources:
        if reg.type in charts.RELEASE_TYPES:
            namespace = reg.inputs.get("namespace") or "default"
            placed += [(d, namespace) for d in charts.expand_release(helm, chart_source, reg)]
        elif reg.type in CONFIG_TYPES:
            # yaml/v2 applies objects without a namespace into the provider's default namespace (the program's
            # providers set none: `default`).
            placed += [(d, "default") for d in expand_config(reg, release_source)]
    return place(placed, platform)


__all__ = ["FROM", "ChartError", "SourceError", "expand", "mirror_path", "read_release"]
