"""The strict validation schemas for exactly the versions the versions table pins.

    python -m tools.schemas --out DIR [--offline] [--stack STACK]

Downloads the CRDs of every pinned release (the release assets and tagged files listed in SOURCES, cached
under ~/.cache/gitops-platform/schemas by URL) and writes each served version's openAPIV3Schema as
DIR/<group>/<Kind>-<version>.json with DIR/INDEX.json (group, kind, version, file, the pin and the URL it
came from): the layout tools/validate.py (and ../shared/tools/validate-manifests) read. The versions are a
stack's (its `versions` overrides included) or, by default, the table's own.

Without network (or with --offline) it copies ../shared/schemas instead and says so: those were taken at
the releases ../shared/schemas/README.md names, which may differ from the pins. Tekton Triggers publishes
no schemas (its CRDs preserve unknown fields); the hand-written ones from ../shared are added when present.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.versions import PINNED, Versions
from tools.mockrun import ROOT

SHARED = ROOT.parent / "shared" / "schemas"
CACHE = Path.home() / ".cache" / "gitops-platform" / "schemas"
# The Gateway API bundle each Envoy Gateway release is built against and ships in its CRD chart
# (envoyproxy/gateway@v1.9.0:charts/gateway-crds-helm/templates/standard-gatewayapi-crds.yaml, bundle-version).
GATEWAY_API_OF_ENVOY_GATEWAY = {"v1.9.0": "v1.6.1"}
RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Source:
    name: str
    pin: str                               # the Versions field whose value decides the release
    groups: tuple[str, ...]                # the API groups its CRDs define
    urls: Callable[[Versions], list[str]]


def _flux(controller: str, field: str) -> Callable[[Versions], list[str]]:
    return lambda v: [f"{v.flux_release_base}/{controller}/releases/download/{getattr(v, field)}/{controller}.crds.yaml"]


def _gateway_api(v: Versions) -> list[str]:
    bundle = GATEWAY_API_OF_ENVOY_GATEWAY.get(v.envoy_gateway_chart_version)
    if bundle is None:
        raise KeyError(f"which Gateway API release Envoy Gateway {v.envoy_gateway_chart_version} bundles is not known: "
                       "add it to tools/schemas.py GATEWAY_API_OF_ENVOY_GATEWAY")
    return [f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{bundle}/standard-install.yaml"]


SOURCES = (
    Source("argo-cd", "argocd_app_version", ("argoproj.io",), lambda v: [
        f"{RAW}/argoproj/argo-cd/{v.argocd_app_version}/manifests/crds/{name}-crd.yaml"
        for name in ("application", "appproject", "applicationset")]),
    Source("tekton-pipelines", "tekton_pipelines_version", ("tekton.dev", "resolution.tekton.dev"),
           lambda v: [v.tekton_pipelines_url]),
    Source("tekton-triggers", "tekton_triggers_version", ("triggers.tekton.dev",), lambda v: [v.tekton_triggers_url]),
    Source("tekton-dashboard", "tekton_dashboard_version", ("dashboard.tekton.dev",), lambda v: [v.tekton_dashboard_url]),
    Source("flux-source", "flux_source_controller", ("source.toolkit.fluxcd.io",),
           _flux("source-controller", "flux_source_controller")),
    Source("flux-notification", "flux_notification_controller", ("notification.toolkit.fluxcd.io",),
           _flux("notification-controller", "flux_notification_controller")),
    Source("flux-image-reflector", "flux_image_reflector_controller", ("image.toolkit.fluxcd.io",),
           _flux("image-reflector-controller", "flux_image_reflector_controller")),
    Source("flux-image-automation", "flux_image_automation_controller", ("image.toolkit.fluxcd.io",),
           _flux("image-automation-controller", "flux_image_automation_controller")),
    Source("flux-kustomize", "flux_kustomize_controller", ("kustomize.toolkit.fluxcd.io",),
           _flux("kustomize-controller", "flux_kustomize_controller")),
    Source("flux-helm", "flux_helm_controller", ("helm.toolkit.fluxcd.io",), _flux("helm-controller", "flux_helm_controller")),
    Source("flagger", "flagger_chart_version", ("flagger.app",),
           lambda v: [f"{RAW}/fluxcd/flagger/v{v.flagger_chart_version}/artifacts/flagger/crd.yaml"]),
    Source("gateway-api", "envoy_gateway_chart_version", ("gateway.networking.k8s.io",), _gateway_api),
    Source("envoy-gateway", "envoy_gateway_chart_version", ("gateway.envoyproxy.io",),
           lambda v: [f"https://github.com/envoyproxy/gateway/releases/download/{v.envoy_gateway_chart_version}/install.yaml"]),
    Source("cert-manager", "cert_manager_chart_version", ("cert-manager.io", "acme.cert-manager.io"),
           lambda v: [f"https://github.com/cert-manager/cert-manager/releases/download/"
                      f"{v.cert_manager_chart_version}/cert-manager.crds.yaml"]),
)


def fetch(url: str, offline: bool = False) -> str:
    """The text at `url`, from the cache when it was fetched before (a pinned release never changes)."""
    cached = CACHE / hashlib.sha256(url.encode()).hexdigest()
    if cached.exists():
        return cached.read_text()
    if offline:
        raise OSError(f"offline and not cached: {url}")
    with urllib.request.urlopen(url, timeout=60) as answer:
        text = answer.read().decode()
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(text)
    return text


def crd_schemas(text: str, groups: tuple[str, ...]) -> list[tuple[dict, dict]]:
    """(index entry, schema) for each version of each CRD of `groups` in a multi-document YAML text."""
    found = []
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        if group not in groups:
            continue
        for version in spec.get("versions") or []:
            schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"x-kubernetes-preserve-unknown-fields": True}
            entry = {"group": group, "kind": kind, "version": version["name"], "served": bool(version.get("served")),
                     "storage": bool(version.get("storage")), "deprecated": bool(version.get("deprecated", False)),
                     "file": f"{group}/{kind}-{version['name']}.json"}
            found.append((entry, schema))
    return found


def build(out: Path, versions: Versions, offline: bool = False) -> list[str]:
    """Write the schema set of `versions` to `out`; returns the lines to report."""
    out.mkdir(parents=True, exist_ok=True)
    index, lines = [], []
    for source in SOURCES:
        for url in source.urls(versions):
            pin = getattr(versions, source.pin)
            entries = crd_schemas(fetch(url, offline), source.groups)
            if not entries:
                raise ValueError(f"{url} ({source.name} {pin}) holds no CRD of {', '.join(source.groups)}")
            for entry, schema in entries:
                path = out / entry["file"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(schema, indent=1, sort_keys=True))
                index.append({**entry, "source": source.name, "pin": f"{source.pin}={pin}", "source_url": url})
            lines.append(f"{source.name} {pin}: {len(entries)} schemas from {url}")
    _hand_written_triggers(out, index, lines)
    (out / "INDEX.json").write_text(json.dumps(index, indent=1))
    return lines


def _hand_written_triggers(out: Path, index: list[dict], lines: list[str]) -> None:
    """Tekton Triggers' CRDs preserve unknown fields; ../shared has schemas written from its Go types."""
    if not SHARED.exists():
        lines.append("tekton-triggers: no published schema, and ../shared/schemas is absent: its objects are "
                     "checked without one")
        return
    shared = {(e["group"], e["kind"], e["version"]): e for e in json.loads((SHARED / "INDEX.json").read_text())}
    for number, entry in enumerate(index):
        key = (entry["group"], entry["kind"], entry["version"])
        if entry["group"] == "triggers.tekton.dev" and key in shared and not shared[key].get("preserve_unknown_only"):
            shutil.copy(SHARED / shared[key]["file"], out / entry["file"])
            index[number] = {**entry, "hand_written_from": "../shared/schemas"}
    lines.append("tekton-triggers: hand-written schemas from ../shared/schemas (Triggers publishes none)")


def copy_shared(out: Path) -> list[str]:
    if not SHARED.exists():
        raise FileNotFoundError("offline, and ../shared/schemas is not beside the repo: no schemas to validate with")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(SHARED, out)
    return [f"offline: copied {SHARED} (the releases its README names, which may differ from the pins)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--offline", action="store_true", help="use the cache or ../shared/schemas, never the network")
    parser.add_argument("--stack", help="take the versions of this stack (its versions overrides)")
    args = parser.parse_args(argv)
    versions = PINNED
    if args.stack:
        from components.config import load_config
        from tools.mockrun import load_stack_file
        config, _ = load_stack_file(args.stack)
        versions = load_config(config, args.stack).versions
    try:
        lines = build(args.out, versions, offline=args.offline)
    except (OSError, urllib.error.URLError) as err:
        print(f"schemas: cannot download the pinned releases' CRDs ({err}); falling back", file=sys.stderr)
        try:
            lines = copy_shared(args.out)
        except FileNotFoundError as missing:
            print(f"schemas: {missing}", file=sys.stderr)
            return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
