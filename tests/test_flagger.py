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
    assert flagger.inputs["values"]["meshProvider"] == "kubernetes"
    assert flagger.inputs["values"]["metricsServer"] == "http://prom.observability:9090"
    # CRDs from the chart's templates at the pinned version (upgraded with it), not Helm's crds/ directory
    assert flagger.inputs["values"]["crd"] == {"create": True} and flagger.inputs["skipCrds"] is True
    loadtester = releases(result)["loadtester"]
    assert loadtester.inputs["version"] == "0.38.0"
    assert loadtester.inputs["values"] == {"fullnameOverride": "flagger-loadtester"}


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
    assert spec["service"] == {"port": 8080}
    assert spec["progressDeadlineSeconds"] == 600
    analysis = spec["analysis"]
    assert analysis["interval"] == "30s" and analysis["threshold"] == 5
    # kubernetes provider: no traffic splitting, so blue/green with as many checks as 50/10 implies
    assert analysis["iterations"] == 5 and "maxWeight" not in analysis and "stepWeight" not in analysis
    assert analysis["metrics"] == [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
        {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"},
    ]
    assert analysis["webhooks"] == [{
        "name": "load-test", "url": "http://flagger-loadtester.flagger-system/", "timeout": "15s",
        "metadata": {"type": "cmd", "cmd": "hey -z 1m -q 10 -c 2 http://person-service-canary.book-dev:8080/"}}]


def test_canary_settings_reach_the_analysis(run, canary_config):
    spec = run(canary_config).find("Canary", "web", "web-dev").inputs["spec"]
    assert spec["service"] == {"port": 80, "targetPort": 8080}
    assert spec["progressDeadlineSeconds"] == 300
    analysis = spec["analysis"]
    assert (analysis["interval"], analysis["threshold"], analysis["iterations"]) == ("1m", 3, 3)
    assert analysis["metrics"][0]["thresholdRange"] == {"min": 95}
    assert analysis["metrics"][1]["thresholdRange"] == {"max": 250}


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
        [{"name": "public", "namespace": "infra"}]
    assert result.find("Canary", "web", "web-dev").inputs["spec"]["service"]["gatewayRefs"] == \
        [{"name": "web-gateway", "namespace": "web-dev"}]


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
    ({}, {"meshProvider": "gatewayapi:v1"},
     "gitops-platform:apps[0].canary.gateway: provider 'gatewayapi:v1' routes traffic through a Gateway API "
     "Gateway; name it ('gateway' or 'namespace/gateway')"),
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
        assert [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs] == [("book-stage", "person-service")]
        assert docs[0]["spec"]["targetRef"]["name"] == "person-service"
    if docs:
        validate_docs(docs)
