"""Argo CD: pinned install, AppProject, per-environment Applications, RBAC without cluster-admin, repo
credentials and the webhook, proven on the real program under mocks."""
from __future__ import annotations

import pytest

from components.config import ConfigError, load_config
from tools.mockrun import FAKE_ADMIN_PASSWORD, FAKE_GENERATED
from tools.render import manifests, to_yaml

IN_CLUSTER = "https://kubernetes.default.svc"
RELEASE = "kubernetes:helm.sh/v3:Release"
WRITE_VERBS = {"*", "create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate"}


def release_of(result):
    [release] = [r for r in result.resources if r.type == RELEASE and r.inputs.get("chart") == "argo-cd"]
    return release


def values_of(result):
    return release_of(result).inputs["values"]


def kinds(result, kind):
    return [r for r in result.k8s_objects() if r.inputs.get("kind") == kind]


def argocd_objects(result):
    return [r for r in result.k8s_objects() if r.inputs["apiVersion"].startswith("argoproj.io/")]


def spec(result, name):
    return result.find("Application", name, "argocd").inputs["spec"]


# ---------------------------------------------------------------- sync policy
def test_dev_apps_sync_automatically_with_prune_and_self_heal(run, base_config):
    result = run(base_config)
    assert result.errors == []
    policy = spec(result, "person-service")["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True, "allowEmpty": False}
    assert policy["syncOptions"] == ["PruneLast=true"]
    assert policy["retry"] == {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}


def test_prod_apps_sync_manually(run, base_config):
    result = run(base_config, stack="prod")
    assert result.errors == []
    for app in ("person-service", "web"):
        policy = spec(result, app)["syncPolicy"]
        assert "automated" not in policy
        assert policy["syncOptions"] == ["PruneLast=true"]
        assert policy["retry"]["limit"] == 5


def test_an_apps_own_sync_setting_wins_over_the_environment_default(run, base_config):
    base_config["apps"][0]["sync"] = "auto"
    prod = run(base_config, stack="prod")
    assert spec(prod, "person-service")["syncPolicy"]["automated"]["selfHeal"] is True
    assert "automated" not in spec(prod, "web")["syncPolicy"]
    base_config["apps"][0]["sync"] = "manual"
    dev = run(base_config)
    assert "automated" not in spec(dev, "person-service")["syncPolicy"]
    assert spec(dev, "web")["syncPolicy"]["automated"]["prune"] is True


def test_application_deploys_the_config_repo_path_into_the_app_namespace(run, base_config):
    result = run(base_config)
    app = result.find("Application", "person-service", "argocd").inputs
    assert app["spec"]["source"] == {"repoURL": "https://github.com/org/gitops-config.git",
                                     "targetRevision": "main", "path": "config/overlays/dev"}
    assert app["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": "book-dev"}
    assert app["spec"]["project"] == "dev"
    # Absolute in the repo: a relative value would be resolved below the app path.
    assert app["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"] == \
        "/config/overlays/dev;/config/base"
    assert "finalizers" not in app["metadata"]


def test_path_defaults_to_app_overlays_environment(run, base_config):
    result = run(base_config, stack="staging")
    web = result.find("Application", "web", "argocd").inputs
    assert web["spec"]["source"]["path"] == "web/overlays/staging"
    assert web["spec"]["destination"]["namespace"] == "web-staging"
    assert web["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"] == \
        "/web/overlays/staging;/web/base"


def test_a_path_outside_the_overlay_layout_is_annotated_alone(run, base_config):
    base_config["apps"][1]["path"] = "deploy/web"
    result = run(base_config)
    web = result.find("Application", "web", "argocd").inputs
    assert web["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"] == "/deploy/web"


def test_cascade_delete_adds_the_resources_finalizer(run, base_config):
    base_config["argocd"] = {"cascadeDelete": True}
    result = run(base_config)
    for app in kinds(result, "Application"):
        assert app.inputs["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_canary_app_ignores_exactly_the_fields_flagger_owns(run, base_config):
    base_config["apps"][0]["canary"] = {"enabled": True, "deployment": "person-service-api"}
    result = run(base_config)
    assert result.errors == []
    canary = spec(result, "person-service")
    # Flagger scales the Deployment to zero and points the Service named like it at the primary
    assert canary["ignoreDifferences"] == [
        {"group": "apps", "kind": "Deployment", "name": "person-service-api", "jsonPointers": ["/spec/replicas"]},
        {"group": "", "kind": "Service", "name": "person-service-api", "jsonPointers": ["/spec/selector", "/spec/ports"]}]
    assert "RespectIgnoreDifferences=true" in canary["syncPolicy"]["syncOptions"]
    plain = spec(result, "web")
    assert "ignoreDifferences" not in plain
    assert "RespectIgnoreDifferences=true" not in plain["syncPolicy"]["syncOptions"]


def test_disabled_canary_is_not_ignored(run, base_config):
    base_config["apps"][0]["canary"] = {"enabled": False}
    assert "ignoreDifferences" not in spec(run(base_config), "person-service")


# ---------------------------------------------------------------- AppProject
def test_project_destinations_are_exactly_the_app_namespaces(run, base_config):
    base_config["apps"].append({"name": "api", "namespace": "book-dev", "image": "quay.io/org/api"})
    result = run(base_config)
    [project] = kinds(result, "AppProject")
    body = project.inputs
    assert body["metadata"] == {"name": "dev", "namespace": "argocd", "labels": body["metadata"]["labels"]}
    assert body["spec"]["destinations"] == [{"server": IN_CLUSTER, "namespace": "book-dev"},
                                            {"server": IN_CLUSTER, "namespace": "web-dev"}]
    assert body["spec"]["sourceRepos"] == ["https://github.com/org/gitops-config.git"]
    assert body["spec"]["clusterResourceWhitelist"] == []   # nothing cluster-scoped, not even Namespaces
    assert "syncWindows" not in body["spec"]


def test_project_name_comes_from_config(run, base_config):
    base_config["argocd"] = {"project": "books"}
    result = run(base_config)
    assert [p.inputs["metadata"]["name"] for p in kinds(result, "AppProject")] == ["books"]
    assert {a.inputs["spec"]["project"] for a in kinds(result, "Application")} == {"books"}


def test_prod_project_has_the_default_working_hours_window(run, base_config):
    result = run(base_config, stack="prod")
    [project] = kinds(result, "AppProject")
    assert project.inputs["spec"]["syncWindows"] == [
        {"kind": "allow", "schedule": "0 8 * * 1-5", "duration": "9h", "manualSync": True, "timeZone": "UTC",
         "applications": ["*"]}]


def test_configured_sync_windows_replace_the_default(run, base_config):
    base_config["argocd"] = {"syncWindows": [
        {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "manualSync": False,
         "timezone": "Europe/Berlin", "applications": ["web"]}]}
    result = run(base_config, stack="prod")
    [project] = kinds(result, "AppProject")
    assert project.inputs["spec"]["syncWindows"] == [
        {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "manualSync": False,
         "timeZone": "Europe/Berlin", "applications": ["web"]}]


def test_app_of_apps_root_gets_its_own_project(run, base_config):
    base_config["argocd"] = {"appOfApps": {"enabled": True, "path": "argocd/dev-apps"}}
    result = run(base_config)
    root = result.find("Application", "dev-app-of-apps", "argocd").inputs
    assert root["spec"]["source"]["path"] == "argocd/dev-apps"
    assert root["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": "argocd"}
    assert root["spec"]["project"] == "dev-root"
    root_project = result.find("AppProject", "dev-root", "argocd").inputs["spec"]
    assert root_project["destinations"] == [{"server": IN_CLUSTER, "namespace": "argocd"}]
    assert root_project["namespaceResourceWhitelist"] == [{"group": "argoproj.io", "kind": "Application"}]
    assert root_project["clusterResourceWhitelist"] == []
    # The apps' project never gains the Argo CD namespace.
    apps_project = result.find("AppProject", "dev", "argocd").inputs["spec"]
    assert "argocd" not in {d["namespace"] for d in apps_project["destinations"]}


def test_app_of_apps_shorthand_and_prod_root_syncs_manually(run, base_config):
    base_config["argocd"] = {"appOfApps": True}
    result = run(base_config, stack="prod")
    root = result.find("Application", "prod-app-of-apps", "argocd").inputs
    assert root["spec"]["source"]["path"] == "argocd/apps"
    assert "automated" not in root["spec"]["syncPolicy"]
    assert not [a for a in kinds(run(base_config | {"argocd": {}}), "Application")
                if a.inputs["metadata"]["name"].endswith("app-of-apps")]


# ---------------------------------------------------------------- graph
def test_every_argocd_custom_resource_depends_on_the_install(run, base_config):
    base_config["argocd"] = {"appOfApps": True}
    result = run(base_config)
    release = release_of(result)
    objects = argocd_objects(result)
    assert {o.inputs["kind"] for o in objects} == {"Application", "AppProject"}
    assert len(objects) == 5  # two apps, the root, two projects
    for obj in objects:
        assert release.urn in obj.dependencies, f"{obj.name} does not wait for the Argo CD chart"


def test_applications_wait_for_namespace_project_and_rbac(run, base_config):
    result = run(base_config)
    urns = {r.inputs["metadata"]["name"] if r.is_kubernetes_object else r.name: r.urn for r in result.resources}
    app = result.find("Application", "person-service", "argocd")
    deployer = result.find("RoleBinding", "argocd-deployer", "book-dev")
    server = result.find("RoleBinding", "argocd-server", "book-dev")
    namespace = result.find("Namespace", "book-dev")
    assert {deployer.urn, server.urn, namespace.urn, urns["dev"]} <= set(app.dependencies)
    assert namespace.urn in deployer.dependencies


def test_install_is_the_pinned_chart_in_its_own_namespace(run, base_config):
    result = run(base_config)
    release = release_of(result)
    assert release.inputs["version"] == "10.1.1"
    assert release.inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    assert release.inputs["namespace"] == "argocd" and release.inputs["name"] == "argocd"
    assert values_of(result)["global"]["image"]["tag"] == "v3.4.4"
    namespace = result.find("Namespace", "argocd")
    assert namespace.urn in release.dependencies
    assert namespace.protect is False


def test_versions_are_overridable_per_stack(run, base_config):
    base_config["versions"] = {"argocdChartVersion": "10.0.0", "argocdAppVersion": "v3.3.9",
                               "argocdChartRepo": "https://mirror.example.com/argo-helm"}
    result = run(base_config)
    release = release_of(result)
    assert release.inputs["version"] == "10.0.0"
    assert release.inputs["repositoryOpts"] == {"repo": "https://mirror.example.com/argo-helm"}
    assert values_of(result)["global"]["image"]["tag"] == "v3.3.9"


def test_prod_protects_the_argocd_namespace(run, base_config):
    result = run(base_config, stack="prod")
    assert result.find("Namespace", "argocd").protect is True


# ---------------------------------------------------------------- RBAC
def test_each_identity_gets_only_its_own_role_in_each_app_namespace(run, base_config):
    base_config["apps"].append({"name": "api", "namespace": "book-dev", "image": "quay.io/org/api"})
    base_config["argocd"] = {"deployerRules": [{"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors"]}]}
    result = run(base_config)
    values = values_of(result)
    argocd_ns = release_of(result).inputs["namespace"]
    controller_sa, server_sa = values["controller"]["serviceAccount"], values["server"]["serviceAccount"]
    assert controller_sa["create"] is True and server_sa["create"] is True
    # The names the upstream chart gives these ServiceAccounts.
    assert (controller_sa["name"], server_sa["name"], argocd_ns) == \
        ("argocd-application-controller", "argocd-server", "argocd")
    for binding, role, account in (("argocd-deployer", "gitops-argocd-deployer", controller_sa["name"]),
                                   ("argocd-server", "gitops-argocd-server", server_sa["name"])):
        bindings = [b for b in kinds(result, "RoleBinding") if b.inputs["metadata"]["name"] == binding]
        assert sorted(b.inputs["metadata"]["namespace"] for b in bindings) == ["book-dev", "web-dev"]
        for b in bindings:
            assert b.inputs["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}
            assert b.inputs["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": argocd_ns}]
    assert not [b for b in kinds(result, "RoleBinding") if b.inputs["roleRef"]["name"] in ("admin", "cluster-admin")]
    # The deployer is `admin` (aggregated) plus the kinds admin leaves out, plus the configured ones.
    deployer = result.find("ClusterRole", "gitops-argocd-deployer")
    selectors = deployer.inputs["aggregationRule"]["clusterRoleSelectors"]
    assert {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}} in selectors
    assert {"matchLabels": {"gitops-platform/aggregate-to-deployer": "true"}} in selectors
    extra = result.find("ClusterRole", "gitops-argocd-deployer-extra")
    assert extra.inputs["metadata"]["labels"]["gitops-platform/aggregate-to-deployer"] == "true"
    resources = {r for rule in extra.inputs["rules"] for r in rule["resources"]}
    assert {"resourcequotas", "limitranges", "endpointslices", "servicemonitors"} <= resources
    assert not any(v in rule["verbs"] for rule in extra.inputs["rules"] for v in ("escalate", "bind", "impersonate"))
    # The UI: get/patch/delete what Argo CD shows, create jobs for "create job"; no exec, port-forward, tokens.
    server = result.find("ClusterRole", "gitops-argocd-server")
    assert server.inputs["rules"] == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch", "patch", "delete"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]}]


def assert_read_only_cluster_wide(rules, allowed_writes):
    for rule in rules:
        verbs = set(rule["verbs"])
        if "*" in rule.get("resources", []) or "nonResourceURLs" in rule:
            assert not verbs & WRITE_VERBS, f"cluster-wide write access: {rule}"
        else:
            resources = tuple(rule["resources"])
            assert verbs <= allowed_writes.get(resources, {"get", "list", "watch"}), rule


def test_controller_is_not_cluster_admin(run, base_config):
    result = run(base_config)
    rules = values_of(result)["controller"]["clusterRoleRules"]
    assert rules["enabled"] is True
    assert_read_only_cluster_wide(rules["rules"], {})
    assert not any("namespaces" in rule.get("resources", []) for rule in rules["rules"])
    # Cluster-wide list and watch is what Argo CD's cache needs; no `get` on `*`, which would include
    # nodes/proxy (every kubelet's API) and services/proxy.
    assert {"apiGroups": ["*"], "resources": ["*"], "verbs": ["list", "watch"]} in rules["rules"]
    assert not [r for r in rules["rules"] if "get" in r["verbs"] and "nonResourceURLs" not in r]
    for binding in kinds(result, "ClusterRoleBinding"):
        assert binding.inputs["roleRef"]["name"] != "cluster-admin"
        assert all(s.get("namespace") != "argocd" for s in binding.inputs["subjects"]), binding.name


def test_server_cannot_delete_or_patch_outside_the_app_namespaces(run, base_config):
    rules = values_of(run(base_config))["server"]["clusterRoleRules"]
    assert rules["enabled"] is True
    assert_read_only_cluster_wide(rules["rules"], {
        ("events",): {"list", "create"},
        ("applications", "applicationsets"): {"get", "list", "update", "watch"}})
    # Nothing that reaches a kubelet, a Service or a pod through the API server's proxy, cluster-wide.
    assert not [r for r in rules["rules"] if "*" in r["resources"] or any(
        res.endswith(("/proxy", "/exec", "/attach", "/portforward")) or res in ("nodes", "secrets")
        for res in r["resources"])]


# ---------------------------------------------------------------- secrets
def test_repo_secret_token_is_a_pulumi_secret_and_never_rendered(run, base_config, secrets):
    result = run(base_config)
    secret = result.find("Secret", "config-repo", "argocd")
    assert secret.inputs["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    assert any(path.startswith("stringData") for path in secret.secret_paths)
    matches = secret.raw_inputs["stringData"] == {"type": "git", "url": "https://github.com/org/gitops-config.git",
                                               "username": "ci-bot", "password": secrets["gitToken"]}
    assert matches, "secret data differs from what was set (values are not shown)"
    assert secrets["gitToken"] not in to_yaml(manifests(result))
    assert secrets["gitToken"] not in repr(secret.inputs)


def test_public_config_repo_needs_no_repo_secret(run, base_config):
    result = run(base_config, secrets={})
    assert not [s for s in kinds(result, "Secret")
                if (s.inputs["metadata"].get("labels") or {}).get("argocd.argoproj.io/secret-type")]
    assert release_of(result).urn in result.find("Application", "web", "argocd").dependencies


def test_ssh_config_repo_uses_the_ssh_key(run, base_config):
    base_config["configRepo"]["url"] = "git@github.com:org/gitops-config.git"
    result = run(base_config, secrets={"gitToken": "tok-123", "gitSshPrivateKey": "KEY-PEM-456"})
    secret = result.find("Secret", "config-repo", "argocd")
    matches = secret.raw_inputs["stringData"] == {"type": "git", "url": "git@github.com:org/gitops-config.git",
                                               "sshPrivateKey": "KEY-PEM-456"}
    assert matches, "secret data differs from what was set (values are not shown)"
    assert "KEY-PEM-456" not in to_yaml(manifests(result))


def test_webhook_secret_is_generated_set_in_the_chart_and_exported_as_secret(run, base_config):
    result = run(base_config)
    assert {"argocdWebhookSecret", "argocdAdminPassword"} <= result.secret_outputs
    assert result.raw_outputs["argocdWebhookSecret"] == FAKE_GENERATED
    # on kind nothing outside can reach Argo CD: no URL is exported (the pipeline tells Argo CD itself)
    assert "argocdWebhookUrl" not in result.outputs
    assert "not needed on kind" in result.outputs["webhooks"]["argocd"]
    release = release_of(result)
    assert "values.configs.secret.githubSecret" in release.secret_paths
    matches = release.raw_inputs["values"]["configs"]["secret"]["githubSecret"] == FAKE_GENERATED
    assert matches, "secret data differs from what was set (values are not shown)"


def test_configured_webhook_secret_is_used(run, base_config, secrets):
    result = run(base_config, secrets={**secrets, "argocdWebhookSecret": "KNOWN-hook-777"})
    assert result.raw_outputs["argocdWebhookSecret"] == "KNOWN-hook-777"
    assert "argocdWebhookSecret" in result.secret_outputs
    assert not result.of_type("random:index/randomPassword:RandomPassword") or all(
        "webhook" not in r.name for r in result.of_type("random:index/randomPassword:RandomPassword"))


def test_webhook_off_exports_nothing_and_sets_no_secret(run, base_config):
    base_config["argocd"] = {"webhook": False}
    result = run(base_config)
    assert "argocdWebhookUrl" not in result.outputs and "argocdWebhookSecret" not in result.outputs
    assert "secret" not in values_of(result)["configs"]


def test_admin_password_is_read_from_the_chart_secret(run, base_config):
    result = run(base_config)
    assert result.outputs["argocdAdminUser"] == "admin"
    assert "argocdAdminPassword" in result.secret_outputs
    assert result.raw_outputs["argocdAdminPassword"] == FAKE_ADMIN_PASSWORD


# ---------------------------------------------------------------- reachability and chart values
def test_kind_exposes_the_server_on_the_node_port(run, base_config):
    base_config["cluster"]["kind"] = {"argocdHostPort": 18080}
    result = run(base_config)
    values = values_of(result)
    assert values["server"]["service"] == {"type": "NodePort", "nodePortHttp": 30080, "nodePortHttps": 30081}
    assert values["server"]["serviceAccount"]["name"] == "argocd-server"
    assert values["configs"]["params"]["server.insecure"] is True
    assert result.outputs["argocdUrl"] == "http://localhost:18080"
    assert values["configs"]["cm"]["url"] == "http://localhost:18080"
    assert "argocdPortForward" not in result.outputs


@pytest.mark.parametrize("cluster", [{"provider": "existing", "existing": {"context": "ctx"}},
                                     {"provider": "eks", "eks": {"region": "eu-west-1"}}])
def test_other_clusters_get_a_cluster_ip_and_a_port_forward_command(run, base_config, cluster):
    base_config["cluster"] = cluster
    result = run(base_config, stack="staging")
    assert result.errors == []
    values = values_of(result)
    assert values["server"]["service"] == {"type": "ClusterIP"}
    assert "server.insecure" not in values["configs"]["params"]
    assert result.outputs["argocdPortForward"] == "kubectl port-forward svc/argocd-server -n argocd 8080:443"
    assert result.outputs["argocdUrl"] == "https://localhost:8080"


def test_external_url_drives_the_url_and_webhook_outputs(run, base_config):
    base_config["cluster"] = {"provider": "existing"}
    base_config["argocd"] = {"externalUrl": "https://argocd.example.org/"}
    result = run(base_config, stack="staging")
    assert result.outputs["argocdUrl"] == "https://argocd.example.org"
    assert result.outputs["argocdWebhookUrl"] == "https://argocd.example.org/api/webhook"
    assert values_of(result)["configs"]["cm"]["url"] == "https://argocd.example.org"


def test_external_url_must_be_http(base_config):
    with pytest.raises(ConfigError) as caught:
        load_config({**base_config, "argocd": {"externalUrl": "argocd.example.org"}}, "dev")
    assert caught.value.lines == ["gitops-platform:argocd.externalUrl: 'argocd.example.org' must be a URL starting "
                                  "with https:// or http:// (got no scheme)"]


@pytest.mark.parametrize("argocd, expected", [
    ({"externalUrl": "https://example.org/argocd"},
     "gitops-platform:argocd.externalUrl: 'https://example.org/argocd' has a path; serve Argo CD at the root "
     "of its own host name"),
    ({"project": "default"},
     "gitops-platform:argocd.project: 'default' is Argo CD's built-in AppProject (it allows every repo and "
     "destination); choose a name of its own or leave it empty for the environment"),
    ({"project": "Books"},
     "gitops-platform:argocd.project: 'Books' is not a valid Kubernetes AppProject name (DNS-1123 label: "
     "lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)"),
    ({"syncWindows": [{"schedule": "0 8 * * 1-5", "duration": "9h", "applications": []}]},
     "gitops-platform:argocd.syncWindows[0].applications: the list should have at least 1 item after validation, "
     "not 0"),
])
def test_invalid_argocd_config_names_the_key(base_config, argocd, expected):
    with pytest.raises(ConfigError) as caught:
        load_config({**base_config, "argocd": argocd}, "dev")
    assert caught.value.lines == [expected]


def test_an_app_may_not_take_the_app_of_apps_root_name(base_config):
    base_config["apps"][1]["name"] = "dev-app-of-apps"
    load_config(base_config, "dev")  # no root, no clash
    with pytest.raises(ConfigError) as caught:
        load_config({**base_config, "argocd": {"appOfApps": True}}, "dev")
    assert caught.value.lines == [
        "gitops-platform:apps[1].name: 'dev-app-of-apps' is the name of the app-of-apps root Application "
        "(argocd.appOfApps); rename the app or set argocd.project"]


def test_reconciliation_timeout_is_configurable(run, base_config):
    base_config["argocd"] = {"reconciliation": "45s"}
    assert values_of(run(base_config))["configs"]["cm"]["timeout.reconciliation"] == "45s"


def test_ha_values(run, base_config):
    assert "redis-ha" not in values_of(run(base_config))
    base_config["argocd"] = {"ha": True}
    base_config["cluster"]["kind"] = {"workers": 3}   # redis-ha needs three schedulable nodes
    values = values_of(run(base_config))
    assert values["redis-ha"] == {"enabled": True}
    assert values["server"]["replicas"] == 2 and values["repoServer"]["replicas"] == 2
    assert values["applicationSet"]["replicas"] == 2 and values["controller"]["replicas"] == 1


# ---------------------------------------------------------------- schemas
def test_argocd_objects_of_every_stack_validate(stack_result, validate_docs):
    _, result = stack_result
    assert result.errors == []
    docs = [r.manifest() for r in argocd_objects(result)]
    assert {d["kind"] for d in docs} == {"Application", "AppProject"}
    validate_docs(docs)


def test_argocd_objects_with_every_option_validate(run, base_config, validate_docs):
    base_config["argocd"] = {"appOfApps": True, "cascadeDelete": True, "syncWindows": [
        {"kind": "allow", "schedule": "0 6 * * 1-5", "duration": "12h"}]}
    base_config["apps"][0]["canary"] = {"enabled": True}
    result = run(base_config)
    assert result.errors == []
    ours = {"Application", "AppProject", "RoleBinding", "Secret"}
    docs = [d for d in manifests(result) if d["kind"] in ours]
    assert {d["kind"] for d in docs} == ours
    validate_docs(docs)


def test_applications_wait_for_the_repo_credentials(run, base_config):
    result = run(base_config)
    secret = result.find("Secret", "config-repo", "argocd")
    for app in kinds(result, "Application"):
        assert secret.urn in app.dependencies


def test_every_argo_cd_pod_has_requests_and_redis_mounts_no_token(run, base_config):
    """The chart sets no requests anywhere (every `*.resources` is {}) and mounts an API token into Redis,
    which never calls the API."""
    values = values_of(run(base_config))
    for component in ("controller", "server", "repoServer", "redis", "applicationSet", "notifications",
                      "redisSecretInit"):
        requests = values[component]["resources"]["requests"]
        assert set(requests) == {"cpu", "memory"}, component
    assert values["redis"]["automountServiceAccountToken"] is False
    base_config["argocd"] = {"ha": True}
    base_config["cluster"] = {"provider": "kind", "kind": {"workers": 3}}
    ha = values_of(run(base_config))
    assert ha["repoServer"]["replicas"] == 2 and ha["repoServer"]["resources"]["requests"]
