"""Offline proof that a canary on the platform's defaults can progress: every analysis metric has a data
source the render installs (or the user named), the scrape config produces the labels the queries select
on, every query is PromQL, and every route Flagger will create can attach to a Gateway in the render.

The built-in queries are Flagger's own text (fluxcd/flagger@v1.44.0:pkg/metrics/observers/http.go,
used for the `kubernetes` and `gatewayapi*` providers by pkg/metrics/observers/factory.go).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components import flagger, gateway, prometheus
from tests.prometheus_model import matches, pod_target, relabel, selectors
from tools.render import manifests

pytest.importorskip("promql_parser", reason="promql-parser parses the analysis queries (requirements.txt)")

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_QUERIES = {
    "request-success-rate": """
    sum(
        rate(
            http_request_duration_seconds_count{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
                status!~"5.*"
            }[{{ interval }}]
        )
    )
    /
    sum(
        rate(
            http_request_duration_seconds_count{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
            }[{{ interval }}]
        )
    )
    * 100""",
    "request-duration": """
    histogram_quantile(
        0.99,
        sum(
            rate(
                http_request_duration_seconds_bucket{
                    kubernetes_namespace="{{ namespace }}",
                    kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
                }[{{ interval }}]
            )
        ) by (le)
    )""",
}
# The annotations the config reference tells a canary app's pod template to carry.
APP_ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}


def fill(query: str, namespace: str, target: str, interval: str) -> str:
    values = {"namespace": namespace, "target": target, "name": target, "service": target, "interval": interval}
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values[m.group(1)], query)


def only_canary(run, base_config, provider="kind", **cluster):
    config = dict(base_config)
    config["apps"] = [dict(base_config["apps"][0], canary={"enabled": True})]
    config["cluster"] = {"provider": provider, **cluster}
    result = run(config)
    assert result.errors == []
    return result, manifests(result)


FLAVOURS = [("kind", {}), ("eks", {"eks": {"region": "eu-west-1"}}), ("existing", {})]


@pytest.mark.parametrize("provider, cluster", FLAVOURS)
def test_a_default_canary_has_a_source_for_every_metric_on_every_cluster_flavour(run, base_config, provider, cluster):
    result, docs = only_canary(run, base_config, provider, **cluster)
    values = next(r for r in result.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "flagger")
    assert values.inputs["values"]["meshProvider"] == "gatewayapi:v1"
    address = values.inputs["values"]["metricsServer"]
    # the metrics server Flagger queries is a Service of the render, in front of the platform's Prometheus
    name, namespace, port = re.fullmatch(r"http://([a-z0-9-]+)\.([a-z0-9-]+):(\d+)", address).groups()
    port = int(port)
    [service] = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == name
                 and d["metadata"]["namespace"] == namespace]
    [deployment] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["namespace"] == namespace
                    and d["spec"]["selector"]["matchLabels"].items() <= service["spec"]["selector"].items()]
    assert [p["port"] for p in service["spec"]["ports"]] == [port]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("docker.io/prom/prometheus:v3.") and "@sha256:" in container["image"]
    # ...that scrapes the canary's namespace
    config = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap" and
                                 d["metadata"]["name"] == "prometheus-config")["data"]["prometheus.yml"])
    [job] = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["book-dev"]}}]
    # and may list pods there (and nowhere else), as gitops-ci's watcher may read the Canary
    bindings = [d for d in docs if d["kind"] == "RoleBinding" and d["roleRef"]["name"] == flagger.CANARY_READER]
    assert [b["metadata"]["namespace"] for b in bindings] == ["book-dev"]
    assert bindings[0]["subjects"] == [
        {"kind": "ServiceAccount", "name": "prometheus", "namespace": "flagger-system"},
        {"kind": "ServiceAccount", "name": "gitops-ci-watcher", "namespace": "gitops-ci"}]
    [role] = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == flagger.CANARY_READER]
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in role["rules"])
    assert not [d for d in docs if d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == flagger.CANARY_READER]
    # every metric of the analysis is a built-in (served by that Prometheus) or a template on it
    canary = next(d for d in docs if d["kind"] == "Canary")
    for metric in canary["spec"]["analysis"]["metrics"]:
        assert metric["name"] in BUILTIN_QUERIES or metric["templateRef"]


def test_the_scrape_config_gives_the_canary_pods_the_labels_the_built_in_queries_select(run, base_config):
    _, docs = only_canary(run, base_config)
    config = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["prometheus.yml"])
    [job] = config["scrape_configs"]
    canary = next(d for d in docs if d["kind"] == "Canary")
    namespace, target = canary["metadata"]["namespace"], canary["spec"]["targetRef"]["name"]
    interval = canary["spec"]["analysis"]["metrics"][0]["interval"]
    pods = {
        # Flagger's pods of one rollout: the canary (the app's Deployment) and the primary copy
        "canary": pod_target(namespace, f"{target}-7d9f8b6c5d-x2x9k", 8080, {"app": target}, APP_ANNOTATIONS),
        "primary": pod_target(namespace, f"{target}-primary-5c8f7b9d4-q7w2n", 8080, {"app": f"{target}-primary"},
                              APP_ANNOTATIONS),
    }
    targets = {k: relabel(v, job["relabel_configs"]) for k, v in pods.items()}
    assert targets["canary"]["__address__"] == "10.244.1.7:8080"
    assert targets["canary"]["kubernetes_namespace"] == namespace
    assert targets["canary"]["kubernetes_pod_name"] == f"{target}-7d9f8b6c5d-x2x9k"
    # a pod without the annotation, or not running, is not scraped
    assert relabel(pod_target(namespace, f"{target}-7d9f8b6c5d-a", 8080, {}, {}), job["relabel_configs"]) is None
    assert relabel(pod_target(namespace, f"{target}-7d9f8b6c5d-b", 8080, {}, APP_ANNOTATIONS, phase="Succeeded"),
                   job["relabel_configs"]) is None
    for name, query in BUILTIN_QUERIES.items():
        found = selectors(fill(query, namespace, target, interval))
        assert found, name
        for selector in found:
            used = {m.name for m in selector.matchers.matchers}
            # every label the query selects on is one the scrape adds, or the app's own (status, le)
            assert used - {"status", "le"} <= set(prometheus.TARGET_LABELS), (name, used)
            series = {"__name__": selector.name, "status": "200", "le": "0.5",
                      **{k: v for k, v in targets["canary"].items() if not k.startswith("__")}}
            assert matches(selector, series), f"{name}: the canary pod's series is not selected"
            primary = {**series, **{k: v for k, v in targets["primary"].items() if not k.startswith("__")}}
            assert not matches(selector, primary), f"{name}: the primary's series would be analysed too"


def test_the_scrape_interval_leaves_rate_enough_samples_in_every_metric_interval(run, base_config):
    base_config["apps"][0]["canary"] = {"metrics": [{"name": "errors", "query": "sum(rate(x[{{ interval }}]))",
                                                     "thresholdRange": {"max": 1}, "interval": "40s"}]}
    result = run(base_config)
    assert result.errors == []
    config = yaml.safe_load(next(d for d in manifests(result) if d["kind"] == "ConfigMap"
                                 and d["metadata"]["name"] == "prometheus-config")["data"]["prometheus.yml"])
    scrape = int(config["global"]["scrape_interval"].rstrip("s"))
    for metric in result.find("Canary", "person-service", "book-dev").inputs["spec"]["analysis"]["metrics"]:
        seconds = int(metric["interval"].rstrip("ms")) * (60 if metric["interval"].endswith("m") else 1)
        # rate() needs two samples; four per window is Prometheus' rule of thumb for a robust rate
        assert seconds >= 4 * scrape, metric


def test_every_metric_template_query_in_every_stack_parses_as_promql(stack_result):
    _, result = stack_result
    for doc in manifests(result):
        if doc["kind"] == "MetricTemplate":
            selectors(fill(doc["spec"]["query"], "ns", "app", "1m"))


def test_the_built_in_queries_parse_once_flagger_fills_them_in():
    for query in BUILTIN_QUERIES.values():
        assert selectors(fill(query, "shop", "web", "1m"))


@pytest.mark.parametrize("provider, cluster", FLAVOURS)
def test_every_canary_route_attaches_to_a_gateway_listener_of_the_render(run, base_config, provider, cluster):
    result, docs = only_canary(run, base_config, provider, **cluster)
    gateways = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "Gateway"}
    classes = {d["metadata"]["name"] for d in docs if d["kind"] == "GatewayClass"}
    proxies = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs if d["kind"] == "EnvoyProxy"}
    namespaces = {d["metadata"]["name"]: d["metadata"].get("labels") or {} for d in docs if d["kind"] == "Namespace"}
    for canary in (d for d in docs if d["kind"] == "Canary"):
        service = canary["spec"]["service"]
        assert service["hosts"], "Flagger's HTTPRoute needs a hostname"
        for ref in service["gatewayRefs"]:
            gw = gateways[(ref["namespace"], ref["name"])]
            assert gw["spec"]["gatewayClassName"] in classes
            params = gw["spec"]["infrastructure"]["parametersRef"]
            assert (gw["metadata"]["namespace"], params["name"]) in proxies
            [listener] = [li for li in gw["spec"]["listeners"] if li["name"] == ref["sectionName"]]
            allowed = listener["allowedRoutes"]["namespaces"]
            route_ns = canary["metadata"]["namespace"]
            assert allowed["from"] == "Selector"
            assert allowed["selector"]["matchLabels"].items() <= namespaces[route_ns].items(), \
                "the route's namespace is not allowed on the listener"
            assert not listener.get("hostname") or all(h.endswith(listener["hostname"].lstrip("*")) for h in service["hosts"])
        # the load test sends its traffic through that Gateway's Envoy, to the canary's hostname
        cmd = canary["spec"]["analysis"]["webhooks"][0]["metadata"]["cmd"]
        assert f"-host {service['hosts'][0]} {gateway.in_cluster_url()}/" in cmd
    # namespaces that are not the platform's or an app's cannot attach routes
    assert "gitops-platform/gateway-routes" not in namespaces["flagger-system"]


def test_envoy_is_reachable_the_way_each_flavour_exposes_it(run, base_config):
    kind_result, kind_docs = only_canary(run, base_config, "kind")
    proxy = next(d for d in kind_docs if d["kind"] == "EnvoyProxy")["spec"]["provider"]["kubernetes"]
    assert proxy["envoyService"]["type"] == "NodePort"
    assert proxy["envoyService"]["externalTrafficPolicy"] == "Cluster"
    assert proxy["envoyService"]["patch"]["value"] == {"spec": {"ports": [{"port": 80, "nodePort": 30800}]}}
    kind_config = yaml.safe_load(kind_result.of_type("command:local:Command")[0].inputs["stdin"])
    mappings = kind_config["nodes"][0]["extraPortMappings"]
    assert {"containerPort": 30800, "hostPort": 8000, "listenAddress": "127.0.0.1", "protocol": "TCP"} in mappings
    assert kind_result.outputs["canaryUrls"] == {"person-service": "http://person-service.localhost:8000/"}
    _, eks_docs = only_canary(run, base_config, "eks", eks={"region": "eu-west-1"})
    service = next(d for d in eks_docs if d["kind"] == "EnvoyProxy")["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["type"] == "LoadBalancer"
    assert service["annotations"] == {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    _, existing = only_canary(run, base_config, "existing")
    service = next(d for d in existing if d["kind"] == "EnvoyProxy")["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["type"] == "LoadBalancer" and "annotations" not in service


def test_the_gateway_objects_validate_strictly(run, base_config, validate_docs):
    for provider, cluster in FLAVOURS:
        _, docs = only_canary(run, base_config, provider, **cluster)
        validate_docs([d for d in docs if d["apiVersion"].startswith(("gateway.", "flagger.app/"))
                       or d["metadata"].get("namespace") == flagger.NAMESPACE])


def test_the_documented_kind_capacity_is_what_the_code_requests():
    """docs/canaries.md's table of what the Gateway and canaries add on kind is the code's numbers."""
    text = (ROOT / "docs" / "canaries.md").read_text()
    rows = dict(re.findall(r"^\| ([A-Za-z][^|]+?) \| (\d+m / \d+Mi) \|", text, re.M))
    expected = {
        "Envoy Gateway controller": gateway.CONTROLLER_REQUESTS,
        "Envoy (the Gateway's proxy)": gateway.KIND_ENVOY_REQUESTS,
        "Envoy shutdown-manager sidecar": gateway.SHUTDOWN_MANAGER_REQUESTS,
        "Flagger": flagger.FLAGGER_REQUESTS,
        "Prometheus": prometheus.REQUESTS,
        "flagger-loadtester": flagger.LOADTESTER_REQUESTS,
    }
    for what, requests in expected.items():
        assert rows.get(what) == f"{requests['cpu']} / {requests['memory']}", what
    cpu = sum(int(r["cpu"].rstrip("m")) for r in expected.values())
    memory = sum(int(r["memory"].rstrip("Mi")) for r in expected.values())
    assert f"| **total** | **{cpu}m / {memory}Mi** |" in text
