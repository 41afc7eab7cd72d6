"""Every node port on the cluster is set by the platform and distinct: the platform's own Services, the
Envoy Service patch, and the Services the charts render with the values the program passes (chart
defaults read from the pinned charts in ../shared/mirror/charts). Two Services asking for one node port:
the API server refuses the second, and a `pulumi up` that installs it as a Helm release would leave that
component down."""
from __future__ import annotations

import copy
import tarfile

import pytest
import yaml

from components.cluster import NodePorts
from tests.conftest import SHARED
from tools.render import manifests

CHARTS = SHARED / "mirror" / "charts"
RELEASE = "kubernetes:helm.sh/v3:Release"


def chart_defaults(chart: str, version: str) -> dict:
    archive = CHARTS / f"{chart}-{version}.tgz"
    if not archive.exists():
        pytest.skip(f"the pinned chart {archive.name} is not in {CHARTS} (../shared absent)")
    with tarfile.open(archive) as tar:
        return yaml.safe_load(tar.extractfile(f"{chart}/values.yaml"))


def merged(base, override):
    """Helm's coalescing of user values over chart defaults (maps merge, everything else replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merged(base.get(key), value) if key in base else value
        return out
    return copy.deepcopy(override)


def chart_node_ports(values, path: str = "") -> dict[str, int]:
    """Node ports a chart asks for: in a Service section of type NodePort, every int-valued nodePort* key
    (the argo-cd chart's server.service.nodePortHttp/nodePortHttps, templates/argocd-server/service.yaml
    renders each one that is set)."""
    found = {}
    if isinstance(values, dict):
        if values.get("type") == "NodePort":
            found.update({f"{path}.{k}": v for k, v in values.items() if k.startswith("nodePort") and isinstance(v, int)})
        for key, value in values.items():
            found.update(chart_node_ports(value, f"{path}.{key}" if path else key))
    return found


def all_node_ports(result) -> dict[str, int]:
    ports: dict[str, int] = {}
    for doc in manifests(result):
        if doc["kind"] == "Service":
            for port in doc["spec"].get("ports", []):
                if "nodePort" in port:
                    ports[f"Service {doc['metadata']['name']}:{port['port']}"] = port["nodePort"]
        if doc["kind"] == "EnvoyProxy":
            patch = doc["spec"]["provider"]["kubernetes"]["envoyService"]["patch"]["value"]["spec"]
            ports.update({f"Envoy Service:{p['port']}": p["nodePort"] for p in patch["ports"]})
    for release in result.of_type(RELEASE):
        inputs = release.inputs
        chart = inputs["chart"].rsplit("/", 1)[-1]   # oci://docker.io/envoyproxy/gateway-helm too
        values = merged(chart_defaults(chart, inputs["version"]), inputs.get("values") or {})
        ports.update({f"{inputs['chart']} {k}": v for k, v in chart_node_ports(values).items()})
    return ports


def kind_with_everything(config: dict) -> dict:
    config = copy.deepcopy(config)
    config.pop("configRepo")
    config.pop("registry")
    config.pop("apps")   # the embedded default: Git server and registry on node ports too
    config["gateway"] = {"domain": "gitops.test", "tls": {"issuer": "selfsigned"}}
    return config


def test_every_node_port_on_kind_with_tls_is_distinct(run, base_config):
    result = run(kind_with_everything(base_config), secrets={})
    assert result.errors == []
    ports = all_node_ports(result)
    # The components that listen on a node port on kind, each on the one the platform chose.
    assert ports["argo-cd server.service.nodePortHttp"] == NodePorts().argocd
    assert ports["argo-cd server.service.nodePortHttps"] == NodePorts().argocd_https
    assert ports["Envoy Service:443"] == NodePorts().gateway_https
    assert ports["Envoy Service:80"] == NodePorts().gateway
    clashes = {port: [who for who, p in ports.items() if p == port] for port in set(ports.values())}
    assert {port: who for port, who in clashes.items() if len(who) > 1} == {}


def test_the_platform_node_ports_are_distinct_and_in_the_service_node_port_range():
    ports = list(NodePorts().all().values())
    assert len(set(ports)) == len(ports)
    assert all(30000 <= p <= 32767 for p in ports)   # kube-apiserver's default --service-node-port-range


def test_the_acme_solver_service_takes_no_node_port(run, base_config):
    config = kind_with_everything(base_config)
    config["gateway"]["tls"] = {"issuer": "letsencrypt", "email": "ops@example.com"}
    result = run(config, secrets={})
    assert result.errors == []
    [issuer] = [d for d in manifests(result) if d["kind"] == "ClusterIssuer"]
    [solver] = issuer["spec"]["acme"]["solvers"]
    # cert-manager makes the solver Service a NodePort when serviceType is unset (its CRD says so).
    assert solver["http01"]["gatewayHTTPRoute"]["serviceType"] == "ClusterIP"


def test_chart_node_ports_finds_the_argo_cd_default_https_node_port():
    """The check above can fail: without the platform's value the chart's own default is seen."""
    values = chart_defaults("argo-cd", "10.1.1")
    values = merged(values, {"server": {"service": {"type": "NodePort", "nodePortHttp": 30080}}})
    assert chart_node_ports(values) == {"server.service.nodePortHttp": 30080, "server.service.nodePortHttps": 30443}
