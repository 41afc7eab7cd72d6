"""Flux image automation: what gets installed, the objects that drive it, and that tekton stacks get none."""
from __future__ import annotations

import hashlib
import json

import pytest

from components.config import load_config
from components.flux import (
    COMMIT_TEMPLATE,
    EVENTS_ADDR,
    place_controller_object,
    receiver_type,
    update_path,
)
from components.versions import url_is_pinned
from tools.mockrun import FAKE_GENERATED
from tools.render import manifests

FLUX_GROUPS = ("source.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "notification.toolkit.fluxcd.io",
               "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io")
FLUX_KINDS = ("GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "Receiver")


@pytest.fixture
def flux_config(base_config):
    base_config["imageUpdates"] = "flux"
    base_config["apps"][0]["imagePolicy"] = {"semver": ">=1.0.0 <2.0.0"}
    base_config["apps"][1]["imagePolicy"] = {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts",
                                             "order": "numerical"}
    return base_config


def of_kind(result, kind):
    return [r for r in result.k8s_objects() if r.inputs["kind"] == kind]


def config_groups(result):
    return result.of_type("kubernetes:yaml/v2:ConfigGroup")


# ---------------------------------------------------------------- nothing with tekton
def test_tekton_image_updates_create_nothing_flux_related(run, base_config):
    base_config["imageUpdates"] = "tekton"
    base_config["apps"][0]["imagePolicy"] = {"semver": ">=1.0.0"}  # a policy alone must not switch Flux on
    result = run(base_config)
    assert result.errors == []
    flux_objects = [r.name for r in result.k8s_objects() if r.inputs["apiVersion"].split("/")[0] in FLUX_GROUPS]
    assert flux_objects == []
    assert not [r for r in result.resources if "fluxcd" in str(r.inputs) or r.type.startswith("gitops-platform:flux")]
    assert not [r for r in result.k8s_objects()
                if (r.inputs.get("metadata") or {}).get("name") == "flux-system"
                or (r.inputs.get("metadata") or {}).get("namespace") == "flux-system"]
    assert not [k for k in result.outputs if k.startswith("flux")]


def test_flux_image_updates_need_the_flux_feature(run, flux_config):
    flux_config["features"] = {"flux": False}
    result = run(flux_config)
    assert "gitops-platform:imageUpdates: 'flux' needs features.flux: true" in result.errors


def test_flux_needs_a_policy_for_every_app(run, flux_config):
    del flux_config["apps"][1]["imagePolicy"]
    result = run(flux_config)
    assert result.errors == ["gitops-platform:apps[1].imagePolicy: is required with imageUpdates: flux"]


# ---------------------------------------------------------------- the install
def test_only_the_image_automation_controllers_are_installed_from_pinned_release_assets(run, flux_config):
    result = run(flux_config)
    controllers, crds = sorted(config_groups(result), key=lambda r: r.name)
    assert crds.name.endswith("-crds") and controllers.name.endswith("-controllers")
    expected = {"source-controller": "v1.9.4", "image-reflector-controller": "v1.2.4",
                "image-automation-controller": "v1.2.4", "notification-controller": "v1.9.3"}
    assert crds.inputs["files"] == [
        f"https://github.com/fluxcd/{c}/releases/download/{v}/{c}.crds.yaml" for c, v in expected.items()]
    assert controllers.inputs["files"] == [
        f"https://github.com/fluxcd/{c}/releases/download/{v}/{c}.deployment.yaml" for c, v in expected.items()]
    assert all(url_is_pinned(u) for u in crds.inputs["files"] + controllers.inputs["files"])
    accounts = sorted(r.inputs["metadata"]["name"] for r in of_kind(result, "ServiceAccount")
                      if r.inputs["metadata"]["namespace"] == "flux-system")
    assert accounts == sorted(expected)
    # The controllers start after their namespace, ServiceAccounts, RBAC and CRDs exist.
    by_urn = result.by_urn()
    deps = {by_urn[u].inputs.get("kind") or by_urn[u].type for u in controllers.dependencies}
    assert {"Namespace", "ServiceAccount", "ClusterRoleBinding", "kubernetes:yaml/v2:ConfigGroup"} <= deps


def test_controller_versions_follow_the_versions_table(run, flux_config):
    flux_config["versions"] = {"fluxSourceController": "v1.9.5", "fluxReleaseBase": "https://mirror.example.com/fluxcd"}
    result = run(flux_config)
    files = [f for g in config_groups(result) for f in g.inputs["files"]]
    assert "https://mirror.example.com/fluxcd/source-controller/releases/download/v1.9.5/source-controller.crds.yaml" \
        in files
    assert all(f.startswith("https://mirror.example.com/fluxcd/") for f in files)


def test_sync_adds_kustomize_and_helm_controllers_without_cluster_admin(run, flux_config):
    flux_config["flux"] = {"sync": True}
    result = run(flux_config)
    files = [f for g in config_groups(result) for f in g.inputs["files"]]
    assert any("kustomize-controller/releases/download/v1.9.4/" in f for f in files)
    assert any("helm-controller/releases/download/v1.6.3/" in f for f in files)
    bindings = [r for r in of_kind(result, "RoleBinding") if r.inputs["metadata"]["name"] == "gitops-flux-sync"]
    assert sorted(b.inputs["metadata"]["namespace"] for b in bindings) == ["book-dev", "web-dev"]
    assert all(b.inputs["roleRef"]["name"] == "admin" for b in bindings)
    for binding in of_kind(result, "ClusterRoleBinding") + of_kind(result, "RoleBinding"):
        assert binding.inputs["roleRef"]["name"] != "cluster-admin", binding.name


def test_without_sync_no_kustomize_or_helm_controller(run, flux_config):
    result = run(flux_config)
    files = [f for g in config_groups(result) for f in g.inputs["files"]]
    assert not [f for f in files if "kustomize-controller" in f or "helm-controller" in f]
    role = next(r for r in of_kind(result, "ClusterRole") if r.inputs["metadata"]["name"] == "gitops-flux-controller")
    groups = role.inputs["rules"][0]["apiGroups"]
    assert groups == ["source.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "notification.toolkit.fluxcd.io"]


def test_the_controllers_cannot_mint_tokens_or_write_core_objects(run, flux_config):
    """Flux's own role lets its controllers create a token for any ServiceAccount (object-level workload
    identity, which nothing here uses); the platform's does not, and writes no core object but events and
    its leader-election ConfigMaps and Leases."""
    role = next(r for r in of_kind(run(flux_config), "ClusterRole")
                if r.inputs["metadata"]["name"] == "gitops-flux-controller")
    core = {(res, verb) for rule in role.inputs["rules"] if rule.get("apiGroups") == [""]
            for res in rule["resources"] for verb in rule["verbs"]}
    assert not [grant for grant in core if grant[0].startswith("serviceaccounts/")]
    writes = {res for res, verb in core if verb not in ("get", "list", "watch")}
    assert writes == {"events", "configmaps", "configmaps/status"}


DEPLOYMENT_ASSET = {  # the shape of a controller's `<controller>.deployment.yaml` release asset
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "image-reflector-controller", "labels": {"control-plane": "controller"}},
    "spec": {"template": {"spec": {"containers": [{
        "name": "manager", "image": "fluxcd/image-reflector-controller:v1.2.4",
        "args": ["--watch-all-namespaces", "--log-level=info"],
        "env": [{"name": "RUNTIME_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
    }]}}},
}


def test_controller_objects_are_placed_like_fluxs_own_kustomize_bases():
    placed = place_controller_object(DEPLOYMENT_ASSET)
    assert placed["metadata"]["namespace"] == "flux-system"
    pod = placed["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "image-reflector-controller"
    manager = pod["containers"][0]
    assert manager["args"][0] == EVENTS_ADDR == \
        "--events-addr=http://notification-controller.flux-system.svc.cluster.local./"
    assert manager["image"] == "ghcr.io/fluxcd/image-reflector-controller:v1.2.4"
    assert {"name": "GOMEMLIMIT", "valueFrom": {"resourceFieldRef": {
        "containerName": "manager", "resource": "limits.memory"}}} in manager["env"]
    assert DEPLOYMENT_ASSET["metadata"].get("namespace") is None  # the input is not modified in place


def test_notification_controller_gets_no_events_address_and_crds_are_left_alone():
    asset = {**DEPLOYMENT_ASSET, "metadata": {"name": "notification-controller"}}
    placed = place_controller_object(asset)
    assert not [a for a in placed["spec"]["template"]["spec"]["containers"][0]["args"] if "events-addr" in a]
    service = place_controller_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "webhook-receiver"},
                                       "spec": {"ports": [{"port": 80}]}})
    assert service["metadata"]["namespace"] == "flux-system"
    assert place_controller_object({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                                    "metadata": {"name": "imagepolicies.image.toolkit.fluxcd.io"}}) is None


# ---------------------------------------------------------------- the objects
def test_each_image_policy_references_an_image_repository_that_exists(run, flux_config):
    flux_config["apps"].append({"name": "web-admin", "image": "ghcr.io/org/web", "imagePolicy": {"semver": "^2"}})
    result = run(flux_config)
    repositories = {r.inputs["metadata"]["name"]: r for r in of_kind(result, "ImageRepository")}
    policies = of_kind(result, "ImagePolicy")
    assert len(policies) == 3
    assert len(repositories) == 2  # the two apps sharing ghcr.io/org/web share one ImageRepository
    for policy in policies:
        ref = policy.inputs["spec"]["imageRepositoryRef"]["name"]
        assert ref in repositories
        assert policy.inputs["metadata"]["namespace"] == repositories[ref].inputs["metadata"]["namespace"]
    images = {p.inputs["metadata"]["name"]: repositories[p.inputs["spec"]["imageRepositoryRef"]["name"]]
              .inputs["spec"]["image"] for p in policies}
    assert images == {"person-service-dev": "quay.io/org/person-service", "web-dev": "ghcr.io/org/web",
                      "web-admin-dev": "ghcr.io/org/web"}


def test_policies_follow_the_apps_image_policy(run, flux_config):
    result = run(flux_config)
    semver = result.find("ImagePolicy", "person-service-dev", "flux-system").inputs["spec"]
    assert semver["policy"] == {"semver": {"range": ">=1.0.0 <2.0.0"}}
    assert "filterTags" not in semver
    pattern = result.find("ImagePolicy", "web-dev", "flux-system").inputs["spec"]
    assert pattern["policy"] == {"numerical": {"order": "asc"}}
    assert pattern["filterTags"] == {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}


def test_registry_credentials_only_for_images_on_the_configured_registry(run, flux_config):
    result = run(flux_config)
    secret = result.find("Secret", "gitops-registry-auth", "flux-system")
    assert secret.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert "stringData" in secret.secret_paths
    assert secret.inputs["stringData"] == {".dockerconfigjson": "[secret]"}
    auths = json.loads(secret.raw_inputs["stringData"][".dockerconfigjson"])["auths"]
    assert list(auths) == ["https://quay.io"]
    carries_password = auths["https://quay.io"]["password"] == "known-registry-password-987654"
    assert carries_password  # a bare bool: a failure message never shows the secret
    quay = result.find("ImageRepository", "person-service", "flux-system")
    assert quay.inputs["spec"]["secretRef"] == {"name": "gitops-registry-auth"}
    assert secret.urn in quay.dependencies
    assert "secretRef" not in result.find("ImageRepository", "web", "flux-system").inputs["spec"]


def test_no_registry_secret_without_a_registry_password(run, flux_config):
    result = run(flux_config, secrets={"gitToken": "t0ken"})
    assert not [r for r in of_kind(result, "Secret") if r.inputs["metadata"]["name"] == "gitops-registry-auth"]
    assert all("secretRef" not in r.inputs["spec"] for r in of_kind(result, "ImageRepository"))


def test_automation_references_the_git_repository_that_exists(run, flux_config):
    result = run(flux_config)
    (automation,) = of_kind(result, "ImageUpdateAutomation")
    (repository,) = of_kind(result, "GitRepository")
    spec = automation.inputs["spec"]
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": repository.inputs["metadata"]["name"]}
    assert automation.inputs["metadata"]["namespace"] == repository.inputs["metadata"]["namespace"] == "flux-system"
    assert repository.urn in automation.dependencies
    assert repository.inputs["spec"]["url"] == "https://github.com/org/gitops-config.git"
    assert repository.inputs["spec"]["ref"] == {"branch": "main"}
    assert spec["update"] == {"strategy": "Setters", "path": "./"}  # the two apps only share the repo root
    assert spec["git"]["checkout"] == {"ref": {"branch": "main"}}
    assert spec["git"]["push"] == {"branch": "main"}
    assert spec["git"]["commit"]["messageTemplate"] == COMMIT_TEMPLATE
    assert "{{ .Setter }}: {{ .OldValue }} -> {{ .NewValue }}" in COMMIT_TEMPLATE  # names each updated image
    assert ".Updated" not in COMMIT_TEMPLATE  # removed from the v1 API: would stall the automation
    assert spec["git"]["commit"]["messageTemplateValues"] == {"environment": "dev"}


def test_push_branch_and_the_common_overlay_parent(run, flux_config):
    flux_config["flux"] = {"pushBranch": "flux/image-updates"}
    flux_config["apps"][1]["path"] = "config/overlays/web-dev"
    result = run(flux_config)
    spec = result.find("ImageUpdateAutomation", "gitops-images", "flux-system").inputs["spec"]
    assert spec["git"]["push"] == {"branch": "flux/image-updates"}
    assert spec["git"]["checkout"] == {"ref": {"branch": "main"}}
    assert spec["update"]["path"] == "./config/overlays"
    cfg = load_config({**flux_config, "apps": flux_config["apps"][:1]}, "dev")
    assert update_path(cfg) == "./config/overlays/dev"


def test_git_credentials_are_a_pulumi_secret(run, flux_config):
    result = run(flux_config)
    secret = result.find("Secret", "gitops-config-auth", "flux-system")
    assert "stringData" in secret.secret_paths
    assert secret.inputs["stringData"] == {"username": "[secret]", "password": "[secret]"}
    matches = secret.raw_inputs["stringData"] == {"username": "ci-bot", "password": "ghp_known_git_token_value_123456"}
    assert matches, "secret data differs from what was set (values are not shown)"
    repository = result.find("GitRepository", "gitops-config", "flux-system")
    assert repository.inputs["spec"]["secretRef"] == {"name": "gitops-config-auth"}
    assert secret.urn in repository.dependencies


def test_ssh_config_repo_uses_the_deploy_key_and_verified_host_keys(run, flux_config):
    flux_config["configRepo"]["url"] = "git@github.com:org/gitops-config.git"
    result = run(flux_config)
    assert result.errors == ["gitops-platform:flux.sshKnownHosts: is required for an ssh configRepo.url with "
                             "imageUpdates: flux (host keys are verified, never skipped)"]
    flux_config["flux"] = {"sshKnownHosts": "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}
    result = run(flux_config, secrets={"gitSshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----known"})
    assert result.errors == []
    repository = result.find("GitRepository", "gitops-config", "flux-system")
    assert repository.inputs["spec"]["url"] == "ssh://git@github.com/org/gitops-config.git"
    secret = result.find("Secret", "gitops-config-auth", "flux-system")
    assert secret.secret_paths
    matches = secret.raw_inputs["stringData"]["identity"] == "-----BEGIN OPENSSH PRIVATE KEY-----known"
    assert matches, "secret data differs from what was set (values are not shown)"
    assert secret.raw_inputs["stringData"]["known_hosts"].startswith("github.com ssh-ed25519 ")


def test_webhook_receiver_url_and_token(run, flux_config):
    token = "known-flux-webhook-token"
    flux_config["gateway"] = {"domain": "gitops.example.com"}
    result = run(flux_config, secrets={"gitToken": "t", "fluxWebhookToken": token})
    receiver = result.find("Receiver", "gitops-webhook", "flux-system")
    assert receiver.inputs["spec"]["type"] == "quay"
    assert receiver.inputs["spec"]["secretRef"] == {"name": "gitops-webhook-token"}
    kinds = {r["kind"] for r in receiver.inputs["spec"]["resources"]}
    assert kinds == {"ImageRepository", "GitRepository"}
    digest = hashlib.sha256((token + "gitops-webhook" + "flux-system").encode()).hexdigest()
    # served on the platform Gateway (kind: plain HTTP unless gateway.tls says otherwise); the path is
    # derived from the token and is the only credential of most Receiver types: a secret output
    assert result.raw_outputs["fluxWebhookUrl"] == f"http://hooks.gitops.example.com/hook/{digest}"
    assert "fluxWebhookUrl" in result.secret_outputs
    assert token not in result.raw_outputs["fluxWebhookUrl"]
    assert "fluxWebhookToken" in result.secret_outputs and result.raw_outputs["fluxWebhookToken"] == token
    assert "status.webhookPath" in result.outputs["fluxWebhookPathCommand"]
    secret = result.find("Secret", "gitops-webhook-token", "flux-system")
    assert secret.secret_paths
    matches = secret.raw_inputs["stringData"] == {"token": token}
    assert matches, "secret data differs from what was set (values are not shown)"
    assert not result.of_type("random:index/randomPassword:RandomPassword") or all(
        "flux" not in r.name for r in result.of_type("random:index/randomPassword:RandomPassword"))


def test_webhook_token_is_generated_when_not_set(run, flux_config):
    flux_config["gateway"] = {"domain": "gitops.example.com"}
    result = run(flux_config)
    assert [r for r in result.of_type("random:index/randomPassword:RandomPassword") if "flux" in r.name]
    assert result.raw_outputs["fluxWebhookToken"] == FAKE_GENERATED
    assert "fluxWebhookToken" in result.secret_outputs
    digest = hashlib.sha256((FAKE_GENERATED + "gitops-webhook" + "flux-system").encode()).hexdigest()
    assert result.raw_outputs["fluxWebhookUrl"].endswith(f"/hook/{digest}")
    # without a domain nothing outside the cluster reaches the Receiver: no URL, and the reason
    del flux_config["gateway"]
    result = run(flux_config)
    assert "fluxWebhookUrl" not in result.outputs
    assert "not reachable from outside the cluster" in result.outputs["webhooks"]["flux"]


@pytest.mark.parametrize("server, expected", [
    ("quay.io", "quay"), ("docker.io", "dockerhub"), ("ghcr.io", "github"), ("myreg.azurecr.io", "acr"),
    ("europe-docker.pkg.dev", "gcr"), ("registry.example.com:5000", "generic")])
def test_receiver_type_follows_the_registry(flux_config, server, expected):
    flux_config["registry"] = {"server": server}
    assert receiver_type(load_config(flux_config, "dev")) == expected
    flux_config["flux"] = {"receiverType": "harbor"}
    assert receiver_type(load_config(flux_config, "dev")) == "harbor"


def test_flux_objects_depend_on_the_install(run, flux_config):
    result = run(flux_config)
    groups = {g.urn for g in config_groups(result)}
    objects = [r for r in result.k8s_objects() if r.inputs["kind"] in FLUX_KINDS]
    assert len(objects) == 7
    for obj in objects:
        assert groups <= set(obj.dependencies), obj.name
        assert obj.inputs["metadata"]["namespace"] == "flux-system"


def test_every_flux_object_passes_strict_validation(run, flux_config, validate_docs):
    flux_config["flux"] = {"sync": True, "pushBranch": "flux/updates"}
    result = run(flux_config)
    docs = [d for d in manifests(result) if d["apiVersion"].split("/")[0] in FLUX_GROUPS
            or (d.get("metadata") or {}).get("namespace") == "flux-system"
            or (d.get("metadata") or {}).get("name") in ("flux-system", "gitops-flux-controller", "gitops-flux-sync")]
    assert {d["kind"] for d in docs} >= set(FLUX_KINDS) | {"Namespace", "Secret", "ServiceAccount", "ClusterRole",
                                                            "ClusterRoleBinding", "RoleBinding"}
    validate_docs(docs)


def test_flux_objects_in_every_stack_validate(stack_result, validate_docs):
    stack, result = stack_result
    assert result.errors == []
    docs = [d for d in manifests(result) if d["apiVersion"].split("/")[0] in FLUX_GROUPS]
    if stack == "staging":  # the staging stack lets Flux update images
        assert {d["kind"] for d in docs} == set(FLUX_KINDS)
        policy = next(d for d in docs if d["kind"] == "ImagePolicy")
        assert policy["metadata"]["name"] == "person-service-staging"
        automation = next(d for d in docs if d["kind"] == "ImageUpdateAutomation")
        assert automation["spec"]["update"]["path"] == "./config/overlays/stage"
    if docs:
        validate_docs(docs)


def test_the_transform_on_the_controllers_group_places_deployments_and_keeps_options():
    import pulumi

    from components.flux import _place_in_flux_system

    opts = pulumi.ResourceOptions(protect=False)
    result = _place_in_flux_system(pulumi.ResourceTransformArgs(
        custom=True, type_="kubernetes:apps/v1:Deployment", name="image-reflector-controller",
        props=DEPLOYMENT_ASSET, opts=opts))
    assert result.props["metadata"]["namespace"] == "flux-system" and result.opts is opts
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"}}
    assert _place_in_flux_system(pulumi.ResourceTransformArgs(
        custom=True, type_="kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", name="x", props=crd,
        opts=opts)) is None


@pytest.mark.parametrize("flux, line", [
    ({"pushBranch": "../main"}, "gitops-platform:flux.pushBranch: '../main' is not a valid git branch name: it contains '..', '@{' or '//' "
                                 "(git check-ref-format)"),
    ({"receiverType": "webhook"}, "gitops-platform:flux.receiverType: 'webhook' is not a Flux Receiver type (one of "
                                  "generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, "
                                  "nexus, acr)"),
    ({"interval": "soon"}, "gitops-platform:flux.interval: 'soon' is not a duration like 30s, 5m or 1h30m (time: invalid "
                           'duration "soon")'),
])
def test_bad_flux_settings_are_config_errors(run, flux_config, flux, line):
    flux_config["flux"] = flux
    result = run(flux_config)
    assert result.errors == [line]
    assert not [r for r in result.k8s_objects() if r.inputs["apiVersion"].split("/")[0] in FLUX_GROUPS]
