"""Expand the Helm releases and charts of a render with the real Helm engine (the toolchain's helm, the
Helm the Pulumi Kubernetes provider embeds), at the pinned chart versions, with the exact values the
program passes. Charts come from a directory of packaged charts (`<name>-<version>.tgz`, as
../shared/mirror/charts holds them).

Every expanded object carries the annotation `render.gitops-platform/from: <namespace>/<release> (<chart>
<version>)`, so a reader (and a test) knows which release it came from; nothing else is changed.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tools.mockrun import Registration, RunResult

RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
FROM = "render.gitops-platform/from"
# The Kubernetes version Helm's `.Capabilities.KubeVersion` reports: the minor of the pinned kind node image
# (Helm's own default is its client library's, which a chart's kubeVersion check would read instead).
KUBE_VERSION = "v1.35.5"


class ChartError(RuntimeError):
    pass


def chart_archive(charts: Path, reg: Registration) -> Path:
    name = str(reg.inputs["chart"]).rsplit("/", 1)[-1]   # oci://docker.io/envoyproxy/gateway-helm too
    archive = charts / f"{name}-{reg.inputs.get('version')}.tgz"
    if not archive.exists():
        raise ChartError(f"{reg.name}: chart {name} {reg.inputs.get('version')} is not in {charts} "
                         f"(expected {archive.name})")
    return archive


def expand_release(helm: str, charts: Path, reg: Registration) -> list[dict[str, Any]]:
    inputs = reg.inputs
    release = inputs.get("name") or reg.name
    namespace = inputs.get("namespace") or "default"
    archive = chart_archive(charts, reg)
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values.json"
        values.write_text(json.dumps(inputs.get("values") or {}))
        args = [helm, "template", release, str(archive), "--namespace", namespace, "--values", str(values),
                "--kube-version", KUBE_VERSION]
        if not inputs.get("skipCrds"):
            args.append("--include-crds")   # a Release installs crds/ unless skipCrds; a v4 Chart the same
        done = subprocess.run(args, capture_output=True, text=True, timeout=300,
                              env={"HOME": tmp, "PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": tmp,
                                   "HELM_CONFIG_HOME": tmp, "HELM_DATA_HOME": tmp})
    if done.returncode != 0:
        raise ChartError(f"{reg.name}: helm template {release} {archive.name} failed:\n{done.stderr[-3000:]}")
    docs = []
    origin = f"{namespace}/{release} ({archive.name.removesuffix('.tgz')})"
    for doc in yaml.safe_load_all(done.stdout):
        if not doc:
            continue
        metadata = doc.setdefault("metadata", {})
        if doc.get("kind", "").endswith("List"):
            raise ChartError(f"{reg.name}: {doc['kind']} objects are not expanded")
        # Helm applies namespaced objects without a namespace into the release's namespace.
        metadata.setdefault("annotations", {})[FROM] = origin
        docs.append(doc)
    return docs


def expand(result: RunResult, charts: Path, helm: str) -> list[dict[str, Any]]:
    """Every object the stack's Helm releases and charts create, in release order."""
    docs = []
    for reg in result.resources:
        if reg.type in RELEASE_TYPES:
            docs += expand_release(helm, charts, reg)
    return docs
