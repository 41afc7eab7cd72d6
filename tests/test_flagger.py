"""Flagger canaries: the chart install, one Canary per canary app, and config errors for bad settings."""
from __future__ import annotations

import pytest

from tools.render import manifests

RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture
def canary_config(base_config):
    base_config["apps"][0]["canary"] = {"enabled": True}
    base_config["apps"][1]["canary"] = {"enabled": True, "port": 80, "targetPort": 8080, "loadTest": False,
                                        "deployment": "web-frontend", "interval": "1m", "threshold": 3,
                                        "maxWeight": 60, "stepWeight": 20, "successRate": 95,
                                        "maxDurationMs": 250, "progressDeadlineSeconds": 300}
    return base_config


def canaries(result):
    return [r for r in result.k8s_objects() if r.inputs["kind"] == "Canary"]


def releases(result):
    return {r.inputs["chart"]: r for r in result.of_type(RELEASE)}


def test_no_flagger_without_a_canary(run, base_config):
    base_config["apps"][0]["canary"] = {"enabled": False}
    result = run(base_config)
    assert result.errors == []
    assert canaries(result) == []
    assert "flagger" not in releases(result) and "loadtester" not in releases(result)
    assert not [r for r in result.resources if r.type.startswith("gitops-platform:flagger")]


def test_flagger_chart_is_pinned_with_the_provider_and_prometheus(run, canary_config):
    canary_config["flagger"] = {"prometheus": "http://prom.observability:9090"}
    result = run(canary_config)
    flagger = releases(result)["flagger"]
    assert flagger.inputs["version"] == "1.44.0"
    assert flagger.inputs["repositoryOpts"] == {"repo": "https://flagger.app"}
    assert flagger.inputs["namespace"] == "flagger-system"
    assert flagger.inputs["values"]["meshProvider"] == "gatewayapi:v1"
    assert flagger.inputs["values"]["metricsServer"] == "http://prom.observability:9090"
    # CRDs from the chart's templates at the pinned version (upgraded with it), not Helm's crds/ directory
    assert flagger.inputs["values"]["crd"] == {"create": True} and flagger.inputs["skipCrds"] is True
    # the chart's own Prometheus stays off: its install re-points -metrics-server at itself
    assert "prometheus" not in flagger.inputs["values"]
    loadtester = releases(result)["loadtester"]
    assert loadtester.inputs["version"] == "0.38.0"
    assert loadtester.inputs["values"]["fullnameOverride"] == "flagger-loadtester"
    # a Prometheus the user names is used as is: the platform installs none
    assert not [r for r in result.resources if r.type == "gitops-platform:flagger:Prometheus"]
    assert not [r for r in result.k8s_objects() if r.inputs["kind"] == "Deployment"]
    assert result.outputs["flaggerPrometheus"] == "http://prom.observability:9090"


def test_no_load_tester_when_no_canary_load_tests(run, canary_config):
    canary_config["apps"][0]["canary"]["loadTest"] = False
    result = run(canary_config)
    assert "loadtester" not in releases(result)
    assert all("webhooks" not in c.inputs["spec"]["analysis"] for c in canaries(result))


def test_each_canary_targets_the_app_deployment_in_the_app_namespace(run, canary_config):
    result = run(canary_config)
    found = {(c.inputs["metadata"]["namespace"], c.inputs["metadata"]["name"]): c.inputs["spec"]["targetRef"]
             for c in canaries(result)}
    assert found == {
        ("book-dev", "person-service"): {"apiVersion": "apps/v1", "kind": "Deployment", "name": "person-service"},
        ("web-dev", "web"): {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-frontend"},
    }
    assert result.outputs["flaggerCanaries"] == ["book-dev/person-service", "web-dev/web"]


def test_canary_defaults_from_the_seed_with_the_load_test(run, canary_config):
    spec = run(canary_config).find("Canary", "person-service", "book-dev").inputs["spec"]
    # Gateway API through the platform Gateway, on the app's own hostname
    assert spec["service"] == {
        "port": 8080, "hosts": ["person-service.localhost"],
        "gatewayRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gitops-gateway",
                         "namespace": "gateway-system", "sectionName": "http"}]}
    assert spec["progressDeadlineSeconds"] == 600 and spec["revertOnDeletion"] is True
    assert "autoscalerRef" not in spec
    analysis = spec["analysis"]
    assert analysis["interval"] == "30s" and analysis["threshold"] == 5
    assert (analysis["maxWeight"], analysis["stepWeight"]) == (50, 10) and "iterations" not in analysis
    assert analysis["metrics"] == [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
        {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"},
    ]
    # the load goes through the Gateway to the canary's hostname: the traffic the route splits
    assert analysis["webhooks"] == [{
        "name": "load-test", "url": "http://flagger-loadtester.flagger-system/", "timeout": "15s",
        "metadata": {"type": "cmd", "cmd": "hey -z 1m -q 10 -c 2 -host person-service.localhost "
                                           "http://gitops-gateway-envoy.envoy-gateway-system/"}}]


def test_the_kubernetes_provider_runs_blue_green_against_the_canary_service(run, canary_config):
    canary_config["flagger"] = {"meshProvider": "kubernetes"}
    spec = run(canary_config).find("Canary", "person-service", "book-dev").inputs["spec"]
    assert spec["service"] == {"port": 8080}
    # no traffic splitting, so blue/green with as many checks as 50/10 implies
    assert spec["analysis"]["iterations"] == 5 and "maxWeight" not in spec["analysis"]
    assert spec["analysis"]["webhooks"][0]["metadata"]["cmd"] == \
        "hey -z 1m -q 10 -c 2 http://person-service-canary.book-dev:8080/"


def test_without_the_gateway_canaries_fall_back_to_blue_green(run, canary_config):
    canary_config["gateway"] = {"enabled": False}
    result = run(canary_config)
    assert result.errors == []
    assert releases(result)["flagger"].inputs["values"]["meshProvider"] == "kubernetes"
    assert "iterations" in result.find("Canary", "person-service", "book-dev").inputs["spec"]["analysis"]
    assert not [r for r in result.resources if r.type == "gitops-platform:gateway:Gateway"]


def test_canary_settings_reach_the_analysis(run, canary_config):
    canary_config["gateway"] = {"domain": "apps.example.com"}
    canary_config["apps"][1]["canary"]["host"] = "www.example.com"
    canary_config["apps"][1]["canary"]["autoscaler"] = True
    spec = run(canary_config).find("Canary", "web", "web-dev").inputs["spec"]
    assert spec["service"]["port"] == 80 and spec["service"]["targetPort"] == 8080
    assert spec["service"]["hosts"] == ["www.example.com"]
    assert spec["autoscalerRef"] == {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                                     "name": "web-frontend"}
    assert spec["progressDeadlineSeconds"] == 300
    analysis = spec["analysis"]
    assert (analysis["interval"], analysis["threshold"], analysis["maxWeight"], analysis["stepWeight"]) == \
        ("1m", 3, 60, 20)
    assert analysis["metrics"][0]["thresholdRange"] == {"min": 95}
    assert analysis["metrics"][1]["thresholdRange"] == {"max": 250}
    other = run(canary_config).find("Canary", "person-service", "book-dev").inputs["spec"]
    assert other["service"]["hosts"] == ["person-service.apps.example.com"]


def test_an_apps_own_checks_become_metric_templates_on_the_same_prometheus(run, canary_config):
    query = ('100 * sum(rate(http_server_requests_seconds_count{kubernetes_namespace="{{ namespace }}",'
             'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",status=~"5.."}[{{ interval }}]))')
    canary_config["apps"][0]["canary"]["metrics"] = [
        {"name": "error-rate", "query": query, "thresholdRange": {"max": 1}, "interval": "2m"}]
    canary_config["apps"][0]["canary"]["builtinMetrics"] = False
    result = run(canary_config)
    assert result.errors == []
    template = result.find("MetricTemplate", "person-service-error-rate", "book-dev").inputs
    assert template["spec"] == {"provider": {"type": "prometheus", "address": "http://prometheus.flagger-system:9090"},
                                "query": query}
    metrics = result.find("Canary", "person-service", "book-dev").inputs["spec"]["analysis"]["metrics"]
    assert metrics == [{"name": "error-rate", "thresholdRange": {"max": 1}, "interval": "2m",
                        "templateRef": {"name": "person-service-error-rate"}}]
    canary = result.find("Canary", "person-service", "book-dev")
    assert template_urn(result, "person-service-error-rate") in canary.dependencies


def template_urn(result, name):
    return next(r.urn for r in result.k8s_objects() if r.inputs["kind"] == "MetricTemplate"
                and r.inputs["metadata"]["name"] == name)


def test_nginx_canary_shifts_weights_through_the_apps_ingress(run, canary_config):
    canary_config["flagger"] = {"meshProvider": "nginx"}
    canary_config["apps"][0]["canary"]["ingress"] = "person-service"
    canary_config["apps"][1]["canary"]["ingress"] = "web"
    result = run(canary_config)
    assert result.errors == []
    spec = result.find("Canary", "person-service", "book-dev").inputs["spec"]
    assert spec["ingressRef"] == {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "person-service"}
    assert (spec["analysis"]["maxWeight"], spec["analysis"]["stepWeight"]) == (50, 10)
    assert "iterations" not in spec["analysis"]
    assert releases(result)["flagger"].inputs["values"]["meshProvider"] == "nginx"


def test_gatewayapi_canary_names_its_gateway(run, canary_config):
    canary_config["flagger"] = {"meshProvider": "gatewayapi"}
    canary_config["apps"][0]["canary"]["gateway"] = "infra/public"
    canary_config["apps"][1]["canary"]["gateway"] = "web-gateway"
    result = run(canary_config)
    assert result.errors == []
    # A bare "gatewayapi" would make Flagger fall back to Istio; the API version is made explicit.
    assert releases(result)["flagger"].inputs["values"]["meshProvider"] == "gatewayapi:v1"
    assert result.find("Canary", "person-service", "book-dev").inputs["spec"]["service"]["gatewayRefs"] == \
        [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "infra"}]
    web = result.find("Canary", "web", "web-dev").inputs["spec"]
    assert web["service"]["gatewayRefs"] == \
        [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "web-gateway", "namespace": "web-dev"}]
    # the load tester cannot know that Gateway's address: it drives the canary Service directly
    person = result.find("Canary", "person-service", "book-dev").inputs["spec"]
    assert person["analysis"]["webhooks"][0]["metadata"]["cmd"] == \
        "hey -z 1m -q 10 -c 2 http://person-service-canary.book-dev:8080/"


def test_apisix_canary_routes_through_an_apisix_route(run, canary_config):
    canary_config["flagger"] = {"meshProvider": "apisix"}
    canary_config["apps"][0]["canary"]["ingress"] = "person-route"
    del canary_config["apps"][1]["canary"]
    spec = run(canary_config).find("Canary", "person-service", "book-dev").inputs["spec"]
    assert spec["routeRef"] == {"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "person-route"}
    assert "ingressRef" not in spec


def test_canaries_depend_on_flagger_and_the_app_namespace(run, canary_config):
    result = run(canary_config)
    by_urn = result.by_urn()
    for canary in canaries(result):
        deps = [by_urn[u] for u in canary.dependencies]
        assert any(d.type == RELEASE and d.inputs["chart"] == "flagger" for d in deps)
        namespaces = [d.inputs["metadata"]["name"] for d in deps if d.inputs.get("kind") == "Namespace"]
        assert namespaces == [canary.inputs["metadata"]["namespace"]]


@pytest.mark.parametrize("canary, flagger, line", [
    ({"maxWeight": 50, "stepWeight": 60}, None,
     "gitops-platform:apps[0].canary.stepWeight: 60 is larger than maxWeight 50"),
    ({"maxWeight": 150}, None,
     "gitops-platform:apps[0].canary.maxWeight: 150 is over 100 (it is a percentage of traffic)"),
    ({}, {"meshProvider": "nginx"},
     "gitops-platform:apps[0].canary.ingress: provider 'nginx' routes traffic through an Ingress; "
     "name the app's Ingress"),
    ({}, {"meshProvider": "apisix"},
     "gitops-platform:apps[0].canary.ingress: provider 'apisix' routes traffic through an ApisixRoute; "
     "name the app's ApisixRoute"),
    ({"metrics": [{"name": "errors", "query": "sum(rate(x[{{ interval }}])", "thresholdRange": {"max": 1}}]}, None,
     "gitops-platform:apps[0].canary.metrics[0].query: is not PromQL once Flagger fills in this app's values "
     "('sum(rate(x[1m])'): unclosed left parenthesis"),
    ({"metrics": [{"name": "errors", "query": "sum(rate(x{ns=\"{{ nmespace }}\"}[1m]))", "thresholdRange": {"max": 1}}]},
     None,
     "gitops-platform:apps[0].canary.metrics[0].query: uses template variables Flagger does not fill in (nmespace); "
     "available: {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ ingress }}, {{ route }}, {{ interval }}"),
    ({"metrics": [{"name": "errors", "query": "up", "thresholdRange": {}}]}, None,
     "gitops-platform:apps[0].canary.metrics[0].thresholdRange: set min, max or both"),
    ({"metrics": [{"name": "errors", "query": "up", "thresholdRange": {"min": 5, "max": 1}}]}, None,
     "gitops-platform:apps[0].canary.metrics[0].thresholdRange.min: 5.0 is above max 1.0"),
    ({"metrics": [{"name": "request-duration", "query": "up", "thresholdRange": {"max": 1}}]}, None,
     "gitops-platform:apps[0].canary.metrics: metric names must be unique and not Flagger's built-in "
     "request-success-rate or request-duration"),
    ({"metrics": [{"name": "Errors", "query": "up", "thresholdRange": {"max": 1}}]}, None,
     "gitops-platform:apps[0].canary.metrics[0].name: 'Errors' is not a valid Kubernetes metric name (DNS-1123 "
     "label: lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)"),
    ({"builtinMetrics": False}, None,
     "gitops-platform:apps[0].canary.builtinMetrics: is false and no metrics are set: the analysis would check "
     "nothing"),
    ({"host": "Web.example.com"}, None,
     "gitops-platform:apps[0].canary.host: 'Web.example.com' is not a hostname like web.apps.example.com (DNS: "
     "labels of at most 63 characters, 253 in all)"),
    ({"interval": "1h"}, None,
     "gitops-platform:apps[0].canary.interval: '1h' is not a Flagger analysis interval (whole seconds or "
     "minutes: 30s, 1m, 1m30s)"),
    ({"gateway": "a/b/c"}, None,
     "gitops-platform:apps[0].canary.gateway: 'a/b/c' is not a Gateway reference like 'gateway' or 'infra/gateway'"),
    ({}, {"meshProvider": "gatewayapi:v2"},
     "gitops-platform:flagger.meshProvider: 'gatewayapi:v2' is not a Flagger mesh provider (one of kubernetes, "
     "nginx, istio, linkerd, appmesh, appmesh:v1beta2, contour, gloo, skipper, traefik, apisix, osm, kuma, knative, "
     "gatewayapi:v1, gatewayapi:v1beta1, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3); Flagger would silently fall back "
     "to Istio"),
])
def test_bad_canary_settings_are_config_errors(run, base_config, canary, flagger, line):
    base_config["apps"][0]["canary"] = canary
    if flagger:
        base_config["flagger"] = flagger
    result = run(base_config)
    assert result.errors == [line]
    assert result.resources == [] or not canaries(result)


def test_the_gateway_api_provider_needs_a_gateway_only_without_the_platforms(run, base_config):
    base_config["apps"][0]["canary"] = {}
    base_config["flagger"] = {"meshProvider": "gatewayapi:v1"}
    assert run(base_config).errors == []
    base_config["gateway"] = {"enabled": False}
    assert run(base_config).errors == [
        "gitops-platform:apps[0].canary.gateway: provider 'gatewayapi:v1' routes traffic through a Gateway API "
        "Gateway and gateway.enabled is false; name one ('gateway' or 'namespace/gateway')"]


def test_providers_that_route_on_their_own_need_no_ingress(run, base_config):
    for provider in ("contour", "gloo", "traefik", "istio", "linkerd"):
        base_config["apps"][0]["canary"] = {}
        base_config["flagger"] = {"meshProvider": provider}
        result = run(base_config)
        assert result.errors == [], provider
        spec = result.find("Canary", "person-service", "book-dev").inputs["spec"]
        assert "ingressRef" not in spec and spec["analysis"]["stepWeight"] == 10


def test_every_flagger_object_passes_strict_validation(run, canary_config, validate_docs):
    docs = []
    for flagger, ingress in (({"meshProvider": "kubernetes"}, {}), ({"meshProvider": "nginx"}, {"ingress": "app"}),
                             ({"meshProvider": "gatewayapi"}, {"gateway": "infra/gw"}),
                             ({"meshProvider": "apisix"}, {"ingress": "route"})):
        canary_config["flagger"] = flagger
        for app in canary_config["apps"]:
            app["canary"] = {k: v for k, v in app["canary"].items() if k not in ("ingress", "gateway")} | ingress
        result = run(canary_config)
        assert result.errors == []
        docs += [d for d in manifests(result) if d["kind"] == "Canary"
                 or (d.get("metadata") or {}).get("name") == "flagger-system"]
    assert len([d for d in docs if d["kind"] == "Canary"]) == 8
    validate_docs(docs)


def test_flagger_objects_in_every_stack_validate(stack_result, validate_docs):
    stack, result = stack_result
    docs = [d for d in manifests(result) if d["apiVersion"].startswith("flagger.app/")]
    if stack == "staging":  # the staging stack releases person-service by canary
        assert sorted((d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs) == [
            ("Canary", "book-stage", "person-service"), ("MetricTemplate", "book-stage", "person-service-error-rate")]
        canary = next(d for d in docs if d["kind"] == "Canary")
        assert canary["spec"]["targetRef"]["name"] == "person-service"
        # a Quarkus app: its own Micrometer check instead of the built-ins it has no series for
        assert [m["name"] for m in canary["spec"]["analysis"]["metrics"]] == ["error-rate"]
    if docs:
        validate_docs(docs)


def test_selector_labels_reach_flagger(run, canary_config):
    values = releases(run(canary_config))["flagger"].inputs["values"]
    assert values["selectorLabels"] == "app,name,app.kubernetes.io/name"
    canary_config["flagger"] = {"selectorLabels": ["deployment", "app.kubernetes.io/name"]}
    assert releases(run(canary_config))["flagger"].inputs["values"]["selectorLabels"] == \
        "deployment,app.kubernetes.io/name"


def test_the_canary_reader_binding_names_only_who_needs_it(run, canary_config):
    result = run(canary_config)
    bindings = {r.inputs["metadata"]["namespace"]: r.inputs for r in result.k8s_objects()
                if r.inputs["kind"] == "RoleBinding" and r.inputs["metadata"]["name"] == "gitops-platform-canary-reader"}
    assert sorted(bindings) == ["book-dev", "web-dev"]
    # a Prometheus of the user's and no Tekton: nobody needs to read the canary namespaces
    canary_config["flagger"] = {"prometheus": "http://prom.observability:9090"}
    canary_config["features"] = {"tekton": False}
    result = run(canary_config)
    assert not [r for r in result.k8s_objects() if r.inputs["metadata"]["name"] == "gitops-platform-canary-reader"]


def test_the_gateway_and_canary_urls_are_stack_outputs(run, canary_config):
    result = run(canary_config)
    assert result.outputs["gateway"] == "gateway-system/gitops-gateway"
    assert result.outputs["gatewayUrl"] == "http://127.0.0.1:8000"
    assert result.outputs["canaryUrls"] == {"person-service": "http://person-service.localhost:8000/",
                                            "web": "http://web.localhost:8000/"}
    assert result.outputs["flaggerPrometheus"] == "http://prometheus.flagger-system:9090"


def test_a_canary_app_namespace_may_attach_routes_and_others_not(run, canary_config):
    result = run(canary_config)
    labels = {r.inputs["metadata"]["name"]: r.inputs["metadata"].get("labels") or {}
              for r in result.k8s_objects() if r.inputs["kind"] == "Namespace"}
    assert labels["book-dev"]["gitops-platform/gateway-routes"] == "allowed"
    assert labels["gateway-system"]["gitops-platform/gateway-routes"] == "allowed"
    assert "gitops-platform/gateway-routes" not in labels["gitops-ci"]
    canary_config["gateway"] = {"enabled": False}
    result = run(canary_config)
    book = next(r for r in result.k8s_objects() if r.inputs["kind"] == "Namespace"
                and r.inputs["metadata"]["name"] == "book-dev")
    assert "gitops-platform/gateway-routes" not in book.inputs["metadata"]["labels"]
