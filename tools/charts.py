"""Expand the Helm releases and charts of a render with the real Helm engine (the toolchain's helm, the
Helm the Pulumi Kubernetes provider embeds), at the pinned chart versions, with the exact values the
program passes. Charts come from a directory of packaged charts (`<name>-<version>.tgz`, as
../shared/mirror/charts holds them), a Helm chart repository URL (a mirror), or, with no source, from where the
program points the provider (its chart repository or oci:// reference).

Every expanded object carries the annotation `render.gitops-platform/from: <namespace>/<release> (<chart>
<version>)`, so a reader (and a test) knows which release it came from; nothing else is changed.
"""
from __future__ import annotations

import json
import os
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


def chart_name(reg: Registration) -> str:
    return str(reg.inputs["chart"]).rsplit("/", 1)[-1]   # oci://docker.io/envoyproxy/gateway-helm too


def chart_archive(charts: Path, reg: Registration) -> Path:
    name = chart_name(reg)
    archive = charts / f"{name}-{reg.inputs.get('version')}.tgz"
    if not archive.exists():
        raise ChartError(f"{reg.name}: chart {name} {reg.inputs.get('version')} is not in {charts} "
                         f"(expected {archive.name})")
    return archive


def chart_args(source: str | Path | None, reg: Registration) -> list[str]:
    """What `helm template` is given to find the chart: an archive, `--repo URL`, or the program's own source."""
    version = str(reg.inputs.get("version") or "")
    if source is None:
        chart = str(reg.inputs["chart"])
        repo = (reg.inputs.get("repositoryOpts") or {}).get("repo")
        return [chart, "--version", version] + (["--repo", repo] if repo and not chart.startswith("oci://") else [])
    if str(source).startswith(("https://", "http://")):
        return [chart_name(reg), "--repo", str(source), "--version", version]
    return [str(chart_archive(Path(source), reg))]


# Only what Helm needs from the caller's environment: where to find a CA and a proxy.
PASSED_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
              "https_proxy", "http_proxy", "no_proxy")


def expand_release(helm: str, source: str | Path | None, reg: Registration) -> list[dict[str, Any]]:
    inputs = reg.inputs
    release = inputs.get("name") or reg.name
    namespace = inputs.get("namespace") or "default"
    chart = chart_args(source, reg)
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values.json"
        values.write_text(json.dumps(inputs.get("values") or {}))
        args = [helm, "template", release, *chart, "--namespace", namespace, "--values", str(values),
                "--kube-version", KUBE_VERSION]
        if not inputs.get("skipCrds"):
            args.append("--include-crds")   # a Release installs crds/ unless skipCrds; a v4 Chart the same
        env = {k: v for k, v in os.environ.items() if k in PASSED_ENV}
        done = subprocess.run(args, capture_output=True, text=True, timeout=300,
                              env={**env, "HOME": tmp, "PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": tmp,
                                   "HELM_CONFIG_HOME": tmp, "HELM_DATA_HOME": tmp})
    if done.returncode != 0:
        raise ChartError(f"{reg.name}: helm template {release} {' '.join(chart)} failed:\n{done.stderr[-3000:]}")
    docs = []
    origin = f"{namespace}/{release} ({chart_name(reg)}-{inputs.get('version')})"
    for doc in yaml.safe_load_all(done.stdout):
        if not doc:
            continue
        if doc.get("kind", "").endswith("List"):
            raise ChartError(f"{reg.name}: {doc['kind']} objects are not expanded")
        metadata = doc.get("metadata") or {}
        metadata["annotations"] = {**(metadata.get("annotations") or {}), FROM: origin}
        doc["metadata"] = metadata
        docs.append(doc)
    return docs


def expand(result: RunResult, charts: str | Path | None, helm: str) -> list[dict[str, Any]]:
    """Every object the stack's Helm releases and charts create, in release order."""
    docs = []
    for reg in result.resources:
        if reg.type in RELEASE_TYPES:
            docs += expand_release(helm, charts, reg)
    return docs
