"""The platform's endpoints: routes on the Gateway for every webhook and the Argo CD UI, TLS from
cert-manager or the user's Secret, rate limits, the relay on kind, and outputs a person can follow."""
from __future__ import annotations

import pytest
import yaml

from tools.render import manifests

DOMAIN = "gitops.example.com"
RELEASE = "kubernetes:helm.sh/v3:Release"


def flavour(base_config, provider: str, **gateway) -> dict:
    base_config["cluster"] = {"provider": provider, **({"eks": {"region": "eu-west-1"}} if provider == "eks" else {})}
    base_config["imageUpdates"] = "flux"
    for app in base_config["apps"]:
        app["imagePolicy"] = {"semver": ">=1.0.0"}
    base_config["gateway"] = {"domain": DOMAIN, "tls": {"email": "ops@example.com"}, **gateway}
    return base_config


def docs_of(result) -> list[dict]:
    assert result.errors == []
    return manifests(result)


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def listeners(docs) -> dict[str, dict]:
    [gateway] = of_kind(docs, "Gateway")
    return {li["name"]: li for li in gateway["spec"]["listeners"]}


# Services the routes send to, and the object of the render that makes each one exist.
PRODUCERS = {
    ("argocd", "argocd-server"): lambda r: any(x.type == RELEASE and x.inputs["chart"] == "argo-cd"
                                               for x in r.resources),
    ("gitops-ci", "el-gitops-ci"): lambda r: bool(r.find("EventListener", "gitops-ci", "gitops-ci")),
    ("flux-system", "webhook-receiver"): lambda r: any(
        "notification-controller.deployment.yaml" in f for x in r.of_type("kubernetes:yaml/v2:ConfigGroup")
        for f in x.inputs.get("files") or []),
}


@pytest.mark.parametrize("provider", ["eks", "existing"])
def test_every_webhook_and_the_ui_have_a_route_to_a_service_the_render_makes(run, base_config, provider):
    result = run(flavour(base_config, provider), stack="prod")
    docs = docs_of(result)
    found = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in of_kind(docs, "HTTPRoute")}
    assert set(found) == {("argocd", "argocd-server"), ("argocd", "argocd-webhook"),
                          ("gitops-ci", "gitops-ci-webhook"), ("flux-system", "flux-receiver")}
    by_listener = listeners(docs)
    for (ns, _name), route in found.items():
        [parent] = route["spec"]["parentRefs"]
        assert (parent["namespace"], parent["name"]) == ("gateway-system", "gitops-gateway")
        listener = by_listener[parent["sectionName"]]
        assert route["spec"]["hostnames"] == [listener["hostname"]]
        allowed = listener["allowedRoutes"]["namespaces"]["selector"]["matchExpressions"]
        assert allowed == [{"key": "kubernetes.io/metadata.name", "operator": "In",
                            "values": allowed[0]["values"]}] and ns in allowed[0]["values"]
        for rule in route["spec"]["rules"]:
            for backend in rule["backendRefs"]:
                assert PRODUCERS[(ns, backend["name"])](result), (ns, backend["name"])
    # only the UI and the webhook paths are served
    paths = {name: [m["path"] for rule in r["spec"]["rules"] for m in rule["matches"]] for (_, name), r in found.items()}
    assert paths == {"argocd-server": [{"type": "PathPrefix", "value": "/"}],
                     "argocd-webhook": [{"type": "PathPrefix", "value": "/api/webhook"}],
                     "gitops-ci-webhook": [{"type": "PathPrefix", "value": "/tekton"}],
                     "flux-receiver": [{"type": "PathPrefix", "value": "/hook/"}]}
    tekton = found[("gitops-ci", "gitops-ci-webhook")]["spec"]["rules"][0]
    assert tekton["filters"] == [{"type": "URLRewrite",
                                  "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]
    assert tekton["backendRefs"] == [{"name": "el-gitops-ci", "port": 8080}]


def test_tls_listeners_take_the_certificate_cert_manager_issues_through_the_gateway(run, base_config):
    result = run(flavour(base_config, "eks"), stack="prod")
    docs = docs_of(result)
    by_listener = listeners(docs)
    for name, host in (("argocd", f"argocd.{DOMAIN}"), ("hooks", f"hooks.{DOMAIN}")):
        listener = by_listener[name]
        assert (listener["protocol"], listener["port"], listener["hostname"]) == ("HTTPS", 443, host)
        assert listener["tls"] == {"mode": "Terminate",
                                   "certificateRefs": [{"group": "", "kind": "Secret", "name": "gitops-gateway-tls"}]}
    [certificate] = of_kind(docs, "Certificate")
    assert certificate["metadata"]["namespace"] == "gateway-system"   # the Secret must be beside the Gateway
    assert certificate["spec"]["secretName"] == "gitops-gateway-tls"
    assert certificate["spec"]["dnsNames"] == [f"argocd.{DOMAIN}", f"hooks.{DOMAIN}"]
    [issuer] = of_kind(docs, "ClusterIssuer")
    assert certificate["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                                "name": issuer["metadata"]["name"]}
    acme = issuer["spec"]["acme"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory" and acme["email"] == "ops@example.com"
    [solver_parent] = acme["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"]
    assert solver_parent["sectionName"] == "http" and by_listener["http"]["port"] == 80
    # the solver's route is made in the Certificate's namespace, which the http listener admits
    [ns] = [d for d in of_kind(docs, "Namespace") if d["metadata"]["name"] == "gateway-system"]
    assert by_listener["http"]["allowedRoutes"]["namespaces"]["selector"]["matchLabels"].items() <= \
        ns["metadata"]["labels"].items()
    [cert_manager] = [r for r in result.of_type(RELEASE) if r.inputs["chart"] == "cert-manager"]
    assert cert_manager.inputs["version"] == "v1.21.1"
    assert cert_manager.inputs["repositoryOpts"] == {"repo": "https://charts.jetstack.io"}
    values = cert_manager.inputs["values"]
    assert values["config"]["gatewayAPI"] == {"enabled": True} and values["crds"] == {"enabled": True, "keep": True}
    # after the Gateway API CRDs, or it exits at start
    by_urn = result.by_urn()
    assert "kubernetes:helm.sh/v4:Chart" in {by_urn[u].type for u in cert_manager.dependencies}


def test_a_users_certificate_secret_needs_no_cert_manager(run, base_config):
    result = run(flavour(base_config, "existing", tls={"secretName": "wildcard-tls"}))
    docs = docs_of(result)
    assert not of_kind(docs, "Certificate") and not of_kind(docs, "ClusterIssuer")
    assert not [r for r in result.of_type(RELEASE) if r.inputs["chart"] == "cert-manager"]
    assert listeners(docs)["argocd"]["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret",
                                                                    "name": "wildcard-tls"}]


def test_a_self_signed_issuer_when_asked(run, base_config):
    docs = docs_of(run(flavour(base_config, "existing", tls={"issuer": "selfsigned"})))
    [issuer] = of_kind(docs, "ClusterIssuer")
    assert issuer["spec"] == {"selfSigned": {}}


def test_argocd_behind_the_gateway_serves_http_to_it_and_knows_its_public_url(run, base_config):
    result = run(flavour(base_config, "eks"), stack="prod")
    [argocd] = [r for r in result.of_type(RELEASE) if r.inputs["chart"] == "argo-cd"]
    values = argocd.inputs["values"]
    assert values["configs"]["params"]["server.insecure"] is True    # no redirect loop behind TLS termination
    assert values["configs"]["cm"]["url"] == f"https://argocd.{DOMAIN}"
    assert values["server"]["service"]["type"] == "ClusterIP"
    # the pipeline posts to the server inside the cluster in plain HTTP, as it now serves
    notify = result.find("Pipeline", "gitops-ci", "gitops-ci").inputs["spec"]["params"]
    assert {p["name"]: p.get("default") for p in notify}["argocd-webhook-url"] == \
        "http://argocd-server.argocd.svc.cluster.local/api/webhook"


def test_outputs_are_the_https_urls_with_their_secrets_and_where_to_register_them(run, base_config):
    result = run(flavour(base_config, "eks"), stack="prod")
    out = result.outputs
    assert out["argocdUrl"] == f"https://argocd.{DOMAIN}"
    assert out["argocdWebhookUrl"] == f"https://argocd.{DOMAIN}/api/webhook"
    assert out["tektonWebhookUrl"] == f"https://hooks.{DOMAIN}/tekton"
    assert result.raw_outputs["fluxWebhookUrl"].startswith(f"https://hooks.{DOMAIN}/hook/")
    assert {"argocdWebhookSecret", "tektonWebhookSecret", "fluxWebhookToken", "fluxWebhookUrl"} <= result.secret_outputs
    hooks = out["webhooks"]
    assert hooks["argocd"] == {"url": f"https://argocd.{DOMAIN}/api/webhook",
                               "secret": "pulumi stack output argocdWebhookSecret --show-secrets",
                               "contentType": "application/json", "events": "push",
                               "register": ["https://github.com/org/gitops-config/settings/hooks"]}
    assert hooks["tekton"]["url"] == f"https://hooks.{DOMAIN}/tekton"
    assert hooks["tekton"]["register"] == ["https://github.com/org/person-service/settings/hooks",
                                           "https://github.com/org/web/settings/hooks"]
    assert "Flux Receiver type quay" in hooks["flux"]["register"]
    assert "argocdPortForward" not in out
    assert "localhost" not in str({k: v for k, v in out.items() if k not in ("tektonDashboardUrl", "nextSteps")})
    # The next steps name the public URLs; only the dashboard (no public route) is a port-forward.
    assert [s for s in out["nextSteps"] if "localhost" in s] == [s for s in out["nextSteps"] if s.startswith("Builds:")]
    assert f"Argo CD: https://argocd.{DOMAIN} (user admin; pulumi stack output --show-secrets argocdAdminPassword)" \
        in out["nextSteps"]


@pytest.mark.parametrize("provider", ["eks", "existing"])
def test_without_a_domain_no_url_that_cannot_work_is_exported(run, base_config, provider):
    config = flavour(base_config, provider)
    del config["gateway"]
    result = run(config, stack="prod")
    out = result.outputs
    assert not {"argocdWebhookUrl", "tektonWebhookUrl", "fluxWebhookUrl"} & set(out)
    for receiver in ("argocd", "tekton", "flux"):
        assert "set gateway.domain" in out["webhooks"][receiver], receiver
    assert not of_kind(docs_of(result), "HTTPRoute")


def test_webhook_paths_are_rate_limited_on_envoy_gateway(run, base_config):
    docs = docs_of(run(flavour(base_config, "existing")))
    policies = {(p["metadata"]["namespace"], p["metadata"]["name"]): p["spec"] for p in of_kind(docs, "BackendTrafficPolicy")}
    assert policies[("argocd", "argocd-webhook")]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "argocd-webhook"}]
    assert policies[("gateway-system", "hooks")]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gitops-gateway", "sectionName": "hooks"}]
    for spec in policies.values():
        [rule] = spec["rateLimit"]["local"]["rules"]
        assert rule["limit"]["unit"] == "Second" and rule["limit"]["requests"] >= 10
    # the canaried apps' traffic is never limited (429s would starve the analysis)
    assert all(t["kind"] != "Gateway" or t.get("sectionName") for p in policies.values() for t in p["targetRefs"])


def test_an_existing_gateway_class_replaces_envoy_gateway(run, base_config):
    result = run(flavour(base_config, "existing", className="istio"))
    docs = docs_of(result)
    [gateway] = of_kind(docs, "Gateway")
    assert gateway["spec"]["gatewayClassName"] == "istio" and "infrastructure" not in gateway["spec"]
    assert not of_kind(docs, "EnvoyProxy") and not of_kind(docs, "GatewayClass")
    assert not of_kind(docs, "BackendTrafficPolicy")     # an Envoy Gateway policy
    assert not [r for r in result.of_type(RELEASE) if "gateway-helm" in r.inputs["chart"]]
    assert of_kind(docs, "HTTPRoute")


def test_kind_with_a_relay_runs_the_pinned_relay_client_toward_the_listener(run, base_config):
    base_config["webhooks"] = {"relay": {"url": "https://smee.io/aBcD1234"}}
    result = run(base_config)
    [relay] = [r for r in result.k8s_objects() if r.inputs["kind"] == "Deployment"
               and r.inputs["metadata"]["name"] == "gitops-ci-relay"]
    spec = relay.inputs["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["image"].startswith("ghcr.io/chmouel/gosmee:v0.32.0@sha256:")
    assert container["args"][-2:] == ["https://smee.io/aBcD1234", "http://el-gitops-ci.gitops-ci.svc.cluster.local:8080"]
    assert spec["automountServiceAccountToken"] is False and spec["securityContext"]["runAsNonRoot"] is True
    hooks = result.outputs["webhooks"]
    assert hooks["tekton"]["url"] == "https://smee.io/aBcD1234"
    assert "not needed on kind" in hooks["argocd"]
    assert not [r for r in result.k8s_objects() if r.inputs["kind"] == "HTTPRoute"]


def test_kind_with_tls_maps_the_https_node_port_too(run, base_config):
    base_config["gateway"] = {"domain": "gitops.test", "tls": {"issuer": "selfsigned"}}
    result = run(base_config)
    kind_config = yaml.safe_load(result.of_type("command:local:Command")[0].inputs["stdin"])
    mappings = {m["hostPort"]: m["containerPort"] for m in kind_config["nodes"][0]["extraPortMappings"]}
    assert mappings[8443] == 30443
    proxy = next(d for d in docs_of(result) if d["kind"] == "EnvoyProxy")
    assert proxy["spec"]["provider"]["kubernetes"]["envoyService"]["patch"]["value"]["spec"]["ports"] == [
        {"port": 80, "nodePort": 30800}, {"port": 443, "nodePort": 30443}]


def test_every_endpoint_object_validates_strictly(run, base_config, validate_docs):
    docs = []
    for provider, gateway in (("eks", {}), ("existing", {"tls": {"secretName": "wildcard-tls"}}),
                              ("existing", {"tls": {"issuer": "selfsigned"}}), ("existing", {"className": "istio"})):
        config = flavour(dict(base_config, apps=[dict(a) for a in base_config["apps"]]), provider, **gateway)
        docs += [d for d in docs_of(run(config, stack="prod"))
                 if d["apiVersion"].startswith(("gateway.", "cert-manager.io/")) or d["kind"] == "StorageClass"]
    assert {d["kind"] for d in docs} >= {"Gateway", "HTTPRoute", "BackendTrafficPolicy", "Certificate",
                                         "ClusterIssuer", "StorageClass"}
    validate_docs(docs)


@pytest.mark.parametrize("gateway, line", [
    ({"domain": DOMAIN, "tls": {}},
     "gitops-platform:gateway.tls.email: is required for Let's Encrypt (the ACME account's contact), or set "
     "gateway.tls.issuer: selfsigned, or secretName"),
    ({"domain": DOMAIN, "tls": {"issuer": "selfsigned", "secretName": "x"}},
     "gitops-platform:gateway.tls.secretName: and issuer 'selfsigned' both say where the certificate comes from; "
     "set one"),
    ({"domain": DOMAIN, "tls": {"email": "ops"}}, "gitops-platform:gateway.tls.email: 'ops' is not an e-mail address"),
    ({"className": "istio", "serviceType": "NodePort"},
     "gitops-platform:gateway.serviceType: configures the Envoy Gateway the platform installs; with className your "
     "GatewayClass's implementation decides how the Gateway is exposed"),
])
def test_bad_endpoint_settings_are_config_errors(run, base_config, gateway, line):
    base_config["cluster"] = {"provider": "existing"}
    base_config["gateway"] = gateway
    assert run(base_config).errors == [line]


def test_the_next_steps_output_says_what_to_open_and_how_to_tear_down(run, base_config):
    from tests.test_embedded import KIND_DEV
    laptop = run(dict(KIND_DEV), secrets={})
    steps = laptop.outputs["nextSteps"]
    assert steps[0] == ("Git server: http://localhost:3000 (user gitops; pulumi stack output --show-secrets "
                        "gitServerPassword)")
    assert any(s.startswith("Builds: http://localhost:9000; the first PipelineRun may still be running: "
                            "kubectl -n gitops-ci get pipelineruns -w") for s in steps)
    assert "Apps: hello http://hello.localhost:8000/" in steps
    assert steps[-1] == "Tear down: pulumi destroy"
    base_config["cluster"] = {"provider": "eks", "eks": {"region": "eu-west-1"}}
    prod = run(base_config, stack="prod").outputs["nextSteps"]
    assert "Register the webhooks: pulumi stack output webhooks" in prod
    assert any("after kubectl port-forward svc/argocd-server -n argocd 8080:443" in s for s in prod)
    assert prod[-1] == "Tear down: pulumi destroy (protected resources first: pulumi state unprotect --all)"
    assert "nextSteps" not in laptop.secret_outputs
