"""The schema set for the pinned versions (tools/schemas.py) and the strict validator (tools/validate.py)."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from components.versions import PINNED, Versions
from tools import schemas, validate
from tools.mockrun import ROOT
from tools.render import manifests, to_yaml

BUILT_IN = validate.BUILT_IN


def emitted_groups(run, base_config) -> set[str]:
    """Every API group of a custom resource the platform emits, over configurations that turn everything on."""
    configs = []
    everything = dict(base_config, imageUpdates="flux", flux={"sync": True},
                      apps=[dict(a, imagePolicy={"semver": ">=1.0.0"}, canary={"enabled": True}) for a in base_config["apps"]])
    configs.append(dict(everything, cluster={"provider": "existing"},
                        gateway={"domain": "gitops.example.com", "tls": {"email": "ops@example.com"}}))
    configs.append({"cluster": {"provider": "kind"}})
    groups = set()
    for config in configs:
        result = run(config, secrets={})
        assert result.errors == []
        groups |= {d["apiVersion"].rpartition("/")[0] for d in manifests(result)}
    return {g for g in groups if g not in BUILT_IN and not g.endswith(".k8s.io")}


def test_every_custom_resource_the_platform_emits_has_a_schema_source_at_a_pinned_version(run, base_config):
    covered = {group for source in schemas.SOURCES for group in source.groups}
    missing = emitted_groups(run, base_config) - covered
    assert not missing, f"no schema source (tools/schemas.py SOURCES) for {sorted(missing)}"
    for source in schemas.SOURCES:
        assert source.pin in Versions.model_fields, source
        pin = getattr(PINNED, source.pin)
        # the release is the pin itself, or (Gateway API) the bundle of the pinned Envoy Gateway
        release = schemas.GATEWAY_API_OF_ENVOY_GATEWAY[pin] if source.name == "gateway-api" else pin
        for url in source.urls(PINNED):
            assert url.startswith("https://") and release.lstrip("v") in url, (source.name, url)


def test_a_pin_without_a_known_schema_release_fails_loudly():
    with pytest.raises(KeyError, match="GATEWAY_API_OF_ENVOY_GATEWAY"):
        schemas._gateway_api(Versions(envoyGatewayChartVersion="v9.9.9"))


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.dev}
spec:
  group: example.dev
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer, default: 1}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: not-a-crd}
"""


def test_the_build_writes_each_pinned_crd_version_with_its_provenance(tmp_path, monkeypatch):
    fetched = []
    monkeypatch.setattr(schemas, "fetch", lambda url, offline=False: fetched.append(url) or CRD)
    monkeypatch.setattr(schemas, "SOURCES", (schemas.Source("example", "flagger_chart_version", ("example.dev",),
                                                            lambda v: [f"https://example.dev/{v.flagger_chart_version}/crd.yaml"]),))
    lines = schemas.build(tmp_path, PINNED)
    assert fetched == [f"https://example.dev/{PINNED.flagger_chart_version}/crd.yaml"]
    [entry] = json.loads((tmp_path / "INDEX.json").read_text())
    assert entry["file"] == "example.dev/Widget-v1.json" and entry["pin"] == f"flagger_chart_version={PINNED.flagger_chart_version}"
    assert json.loads((tmp_path / entry["file"]).read_text())["properties"]["spec"]["properties"]["size"]["default"] == 1
    assert lines[0].startswith(f"example {PINNED.flagger_chart_version}: 1 schemas")
    # and the validator takes it: a default filled in, an undeclared field refused
    good = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert validate.problems(good, validate.index_of(tmp_path)) == []
    typo = {**good, "spec": {"sise": 2}}
    assert validate.problems(typo, validate.index_of(tmp_path)) == ["spec.sise: unknown field (the API server would drop it)"]


def test_without_network_the_shared_schemas_are_used_and_it_says_so(tmp_path, monkeypatch, capsys):
    if not schemas.SHARED.exists():
        pytest.skip("../shared/schemas is not beside the repo")
    def no_network(url, offline=False):
        raise OSError("Name or service not known")
    monkeypatch.setattr(schemas, "fetch", no_network)
    assert schemas.main(["--out", str(tmp_path / "set")]) == 0
    out = capsys.readouterr()
    assert "falling back" in out.err and "offline: copied" in out.out
    assert (tmp_path / "set" / "INDEX.json").exists()


def test_the_validator_agrees_with_the_shared_one_on_every_stack(stack_result, tmp_path):
    if not schemas.SHARED.exists():
        pytest.skip("../shared/schemas is not beside the repo")
    _, result = stack_result
    path = tmp_path / "render.yaml"
    path.write_text(to_yaml(manifests(result)))
    ours = subprocess.run([sys.executable, "-m", "tools.validate", "--schemas", str(schemas.SHARED), str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert ours.returncode == 0, ours.stdout
    broken = copy.deepcopy(manifests(result))   # the stack's render is shared by other tests
    canary_or_first = next((d for d in broken if d["kind"] == "Canary"), broken[-1])
    canary_or_first.setdefault("spec", {})["selfheal"] = True
    path.write_text(to_yaml(broken))
    refused = subprocess.run([sys.executable, "-m", "tools.validate", "--schemas", str(schemas.SHARED), str(path)],
                             capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 1 and "selfheal" in refused.stdout
