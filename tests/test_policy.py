"""The policy pack, driven through pulumi-policy's own analyzer service.

Each resource goes through `_PolicyAnalyzerServicer.Analyze`/`AnalyzeStack` (the code the Pulumi CLI
calls over gRPC) with its properties in wire form, Pulumi secrets as secret envelopes, so the tests run
the pack's real validation functions, its secret markers and the SDK's deserialisation and enforcement.
"""
from __future__ import annotations

import copy
import json
import runpy

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy import deserialize as sdk_deserialize
from pulumi_policy.policy import _PolicyAnalyzerServicer

from components.versions import PINNED, image_is_pinned, url_is_pinned
from policy import gitops_policies as gp
from tools.mockrun import ROOT, SECRET, RunResult

PACK = "gitops-platform-guardrails"
ENV = gp.ENV_LABEL
APP_T = "kubernetes:argoproj.io/v1alpha1:Application"
APPSET_T = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
PROJECT_T = "kubernetes:argoproj.io/v1alpha1:AppProject"
RELEASE_T = "kubernetes:helm.sh/v3:Release"
SECRET_T = "kubernetes:core/v1:Secret"
SA_T = "kubernetes:core/v1:ServiceAccount"
TASK_T = "kubernetes:tekton.dev/v1:Task"
DEPLOY_T = "kubernetes:apps/v1:Deployment"
CRB_T = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
RB_T = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CR_T = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CONFIGFILE_T = "kubernetes:yaml/v2:ConfigFile"
CONFIGGROUP_T = "kubernetes:yaml/v2:ConfigGroup"
DIGEST = "sha256:" + "ab" * 32
CATALOG_SHA = PINNED.git_clone_task_revision


def secret(value):
    """A value as the engine sends a Pulumi secret to an analyzer."""
    return {sdk_deserialize.SPECIAL_SIG_KEY: sdk_deserialize.SPECIAL_SECRET_SIG, "value": value}


@pytest.fixture(autouse=True)
def no_stack_in_environment(monkeypatch):
    # The CLI tells the pack its stack through these; tests set them explicitly when they matter.
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)


def servicer(config: dict | None = None) -> _PolicyAnalyzerServicer:
    gp.install_secret_markers()
    service = _PolicyAnalyzerServicer(PACK, "0.1.0", gp.POLICIES, EnforcementLevel.MANDATORY)
    if config:
        request = proto.ConfigureAnalyzerRequest()
        for policy, properties in config.items():
            request.policyConfig[policy].enforcementLevel = proto.MANDATORY
            request.policyConfig[policy].properties.update(properties)
        service.Configure(request, None)
    return service


def struct(props: dict) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(props)
    return value


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::gitops-platform::{type_}::{name}"


def _violations(diagnostics) -> list[tuple[str, str]]:
    found = []
    for diag in diagnostics:
        assert diag.enforcementLevel == proto.MANDATORY, diag
        description, _, message = diag.message.partition("\n")
        assert description == diag.description
        found.append((diag.policyName, message))
    return found


def analyze(type_: str, name: str, props: dict, config: dict | None = None) -> list[tuple[str, str]]:
    """(policy, message) for every violation the pack reports on one resource."""
    request = proto.AnalyzeRequest(type=type_, urn=urn(type_, name), name=name, properties=struct(props))
    return _violations(servicer(config).Analyze(request, None).diagnostics)


def analyze_stack(resources: list[tuple[str, str, dict]]) -> list[tuple[str, str, str]]:
    """(policy, urn, message) for the stack policies over `resources` (type, name, props)."""
    request = proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=t, urn=urn(t, n), name=n, properties=struct(p)) for t, n, p in resources])
    diagnostics = servicer().AnalyzeStack(request, None).diagnostics
    return [(policy, diag.urn, message) for (policy, message), diag in zip(_violations(diagnostics), diagnostics, strict=True)]


def meta(name: str, namespace: str | None = None, env: str | None = None, **extra) -> dict:
    body = {"name": name, **extra}
    if namespace:
        body["namespace"] = namespace
    if env:
        body["labels"] = {ENV: env, "app.kubernetes.io/managed-by": "gitops-platform"}
    return body


def application(env: str | None, sync_policy: dict | None, project: str = "prod") -> dict:
    spec = {"project": project, "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "source": {"repoURL": "https://github.com/org/config.git", "path": "overlays/prod",
                       "targetRevision": "main"}}
    if sync_policy is not None:
        spec["syncPolicy"] = sync_policy
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": meta("shop", "argocd", env), "spec": spec}


def app_project(env: str | None, windows: list | None) -> dict:
    spec = {"sourceRepos": ["https://github.com/org/config.git"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "shop"}]}
    if windows is not None:
        spec["syncWindows"] = windows
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": meta("prod", "argocd", env), "spec": spec}


AUTOMATED = {"automated": {"prune": True, "selfHeal": True}}
WINDOW = {"kind": "allow", "schedule": "0 8 * * 1-5", "duration": "9h", "manualSync": True,
          "applications": ["*"]}
MANUAL_SYNC_MSG = (
    f'{APP_T} "shop-app" (argocd/shop): prod Applications must sync manually, but '
    "spec.syncPolicy.automated is set. Fix: remove spec.syncPolicy.automated (apps[].sync: manual, the prod "
    "default) and sync after review with `argocd app sync`.")


# ---------------------------------------------------------------- 1. prod sync safety
def test_prod_application_with_automated_sync_is_refused():
    assert analyze(APP_T, "shop-app", application("prod", AUTOMATED)) == [
        ("prod-applications-sync-manually", MANUAL_SYNC_MSG)]


def test_prod_application_syncing_manually_passes():
    assert analyze(APP_T, "shop-app", application("prod", {"syncOptions": ["PruneLast=true"]})) == []
    # Argo CD 3.x: an automated block that is switched off is manual sync.
    assert analyze(APP_T, "shop-app", application("prod", {"automated": {"enabled": False}})) == []


def test_dev_application_may_sync_automatically():
    assert analyze(APP_T, "shop-app", application("dev", AUTOMATED)) == []


def test_prod_is_known_from_the_stack_when_the_label_is_missing_or_wrong(monkeypatch):
    assert analyze(APP_T, "shop-app", application(None, AUTOMATED)) == []
    monkeypatch.setenv("PULUMI_STACK", "prod")
    assert analyze(APP_T, "shop-app", application(None, AUTOMATED)) == [
        ("prod-applications-sync-manually", MANUAL_SYNC_MSG)]
    # A dev label does not switch the prod rules off on a prod stack.
    assert analyze(APP_T, "shop-app", application("dev", AUTOMATED)) == [
        ("prod-applications-sync-manually", MANUAL_SYNC_MSG)]


def test_prod_is_known_from_stack_config_and_from_policy_config(monkeypatch):
    monkeypatch.setenv("PULUMI_STACK", "eu-live")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"gitops-platform:environment": "prod"}))
    assert analyze(APP_T, "shop-app", application(None, AUTOMATED)) == [
        ("prod-applications-sync-manually", MANUAL_SYNC_MSG)]
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"gitops-platform:environment": "staging"}))
    assert analyze(APP_T, "shop-app", application(None, AUTOMATED)) == []
    config = {"prod-applications-sync-manually": {"environment": "prod"}}
    assert analyze(APP_T, "shop-app", application(None, AUTOMATED), config) == [
        ("prod-applications-sync-manually", MANUAL_SYNC_MSG)]


def test_prod_applicationset_template_with_automated_sync_is_refused():
    appset = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
              "metadata": meta("apps", "argocd", "prod"),
              "spec": {"generators": [{"list": {"elements": [{"app": "shop"}]}}],
                       "template": {"metadata": {"name": "{{app}}"}, "spec": {**application("prod", AUTOMATED)["spec"]}}}}
    assert analyze(APPSET_T, "apps", appset) == [("prod-applications-sync-manually", (
        f'{APPSET_T} "apps" (argocd/apps): prod Applications must sync manually, but the ApplicationSet '
        "template sets spec.template.spec.syncPolicy.automated. Fix: remove it from the template so generated "
        "Applications sync only on request."))]
    del appset["spec"]["template"]["spec"]["syncPolicy"]
    assert analyze(APPSET_T, "apps", appset) == []


def test_prod_project_without_sync_windows_is_refused():
    assert analyze(PROJECT_T, "proj", app_project("prod", None)) == [("prod-projects-have-sync-windows", (
        f'{PROJECT_T} "proj" (argocd/prod): prod AppProjects must restrict when syncs run, but '
        "spec.syncWindows is empty. Fix: set gitops-platform:argocd.syncWindows (or keep the prod default, an "
        "allow window '0 8 * * 1-5' for 9h) so the project carries a sync window."))]


def test_prod_project_whose_window_selects_nothing_is_refused():
    window = {k: v for k, v in WINDOW.items() if k != "applications"}
    assert analyze(PROJECT_T, "proj", app_project("prod", [window])) == [("prod-projects-have-sync-windows", (
        f'{PROJECT_T} "proj" (argocd/prod): prod AppProjects need a sync window that takes effect, but '
        "spec.syncWindows[0] selects no applications, namespaces or clusters, so Argo CD applies it to "
        "nothing. Fix: give each window kind, schedule, duration and the applications/namespaces/clusters it "
        "covers (e.g. applications: ['*'])."))]


def test_prod_project_with_a_sync_window_passes_and_dev_needs_none():
    assert analyze(PROJECT_T, "proj", app_project("prod", [WINDOW])) == []
    assert analyze(PROJECT_T, "proj", app_project("dev", None)) == []


def test_prod_application_outside_a_windowed_project_is_refused_by_the_stack_policy():
    project = (PROJECT_T, "proj", app_project("prod", [WINDOW]))
    escaped = (APP_T, "shop-app", application("prod", None, project="default"))
    assert analyze_stack([project, escaped]) == [("prod-applications-in-windowed-project", urn(APP_T, "shop-app"), (
        f'{APP_T} "shop-app" (argocd/shop): prod Application uses AppProject \'default\', which this stack does '
        "not manage, so the platform's sync windows do not apply to it. Fix: put the Application in the "
        "platform's project (gitops-platform:argocd.project)."))]
    assert analyze_stack([project, (APP_T, "shop-app", application("prod", None, project="prod"))]) == []
    unwindowed = (PROJECT_T, "proj", app_project("prod", []))
    assert [v[0] for v in analyze_stack([unwindowed, (APP_T, "shop-app", application("prod", None))])] == [
        "prod-applications-in-windowed-project"]


# ---------------------------------------------------------------- 2. pinned images
def deployment(containers: list[dict], init: list[dict] | None = None) -> dict:
    pod = {"containers": containers}
    if init:
        pod["initContainers"] = init
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web", "shop"),
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod}}}


def image_msg(type_, name, ident, image, where, problem):
    return ("images-pinned", f'{type_} "{name}" ({ident}): image {image!r} at {where} {problem}. Fix: pin it to '
                             "an exact tag or a sha256 digest (the platform's pins live in components/versions.py).")


def test_untagged_and_latest_images_are_refused():
    found = analyze(DEPLOY_T, "web", deployment([{"name": "web", "image": "nginx"}],
                                                [{"name": "init", "image": "busybox:latest"}]))
    assert sorted(found) == sorted([
        image_msg(DEPLOY_T, "web", "shop/web", "nginx", "spec.template.spec.containers[0].image",
                  "has no tag, so it pulls :latest"),
        image_msg(DEPLOY_T, "web", "shop/web", "busybox:latest", "spec.template.spec.initContainers[0].image",
                  "uses the floating tag 'latest'"),
    ])


def test_images_pinned_by_tag_or_digest_pass():
    assert analyze(DEPLOY_T, "web", deployment([{"name": "web", "image": "nginx:1.27.1"}],
                                               [{"name": "init", "image": f"busybox@{DIGEST}"}])) == []


def tekton_task(step_image: str, params: list[dict] | None = None) -> dict:
    spec = {"steps": [{"name": "run", "image": step_image, "script": "true"}],
            "sidecars": [{"name": "helper", "image": PINNED.image_python}]}
    if params is not None:
        spec["params"] = params
    return {"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": meta("run-tests", "gitops-ci"), "spec": spec}


def test_tekton_step_images_are_checked_through_their_parameter_default():
    pinned = [{"name": "image", "type": "string", "default": PINNED.image_test_runner}]
    assert analyze(TASK_T, "task", tekton_task("$(params.image)", pinned)) == []
    floating = [{"name": "image", "type": "string", "default": "alpine"}]
    assert analyze(TASK_T, "task", tekton_task("$(params.image)", floating)) == [image_msg(
        TASK_T, "task", "gitops-ci/run-tests", "$(params.image)", "spec.steps[0].image",
        "defaults (param 'image') to 'alpine', which has no tag, so it pulls :latest")]
    assert analyze(TASK_T, "task", tekton_task("$(params.image)", [{"name": "image", "type": "string"}])) == [
        image_msg(TASK_T, "task", "gitops-ci/run-tests", "$(params.image)", "spec.steps[0].image",
                  "is the Tekton parameter 'image', which has no pinned default")]
    assert analyze(TASK_T, "task", tekton_task("docker.io/alpine/git:edge")) == [image_msg(
        TASK_T, "task", "gitops-ci/run-tests", "docker.io/alpine/git:edge", "spec.steps[0].image",
        "uses the floating tag 'edge'")]


def test_the_platforms_own_task_images_need_a_digest_besides_the_tag():
    found = analyze(TASK_T, "task", tekton_task("docker.io/alpine/git:v2.52.0"))
    assert found == [("images-pinned", 'kubernetes:tekton.dev/v1:Task "task" (gitops-ci/run-tests): image '
                      "'docker.io/alpine/git:v2.52.0' at spec.steps[0].image is pinned by tag only; a tag can be pushed "
                      "again. Fix: pin it as name:tag@sha256:<digest> (the tag for people, the digest for the machine; "
                      "components/versions.py).")]
    tag_only = [{"name": "image", "type": "string", "default": "docker.io/library/alpine:3.24.2"}]
    assert [p for p, _ in analyze(TASK_T, "task", tekton_task("$(params.image)", tag_only))] == ["images-pinned"]
    assert analyze(TASK_T, "task", tekton_task(PINNED.image_git)) == []


def helm_release(values: dict, chart: str = "flagger", version: str | None = "1.44.0") -> dict:
    props = {"chart": chart, "namespace": "flagger-system", "values": values,
             "repositoryOpts": {"repo": "https://flagger.app"}}
    if version is not None:
        props["version"] = version
    return props


def test_chart_value_images_are_checked():
    values = {"image": {"repository": "ghcr.io/fluxcd/flagger", "tag": "latest"},
              "loadtester": {"image": "ghcr.io/fluxcd/flagger-loadtester"}}
    assert sorted(analyze(RELEASE_T, "flagger", helm_release(values))) == sorted([
        ("images-pinned", f'{RELEASE_T} "flagger": image \'ghcr.io/fluxcd/flagger:latest\' at values.image uses '
                          "the floating tag 'latest'. Fix: pin it to an exact tag or a sha256 digest (the "
                          "platform's pins live in components/versions.py)."),
        ("images-pinned", f'{RELEASE_T} "flagger": image \'ghcr.io/fluxcd/flagger-loadtester\' at '
                          "values.loadtester.image has no tag, so it pulls :latest. Fix: pin it to an exact tag "
                          "or a sha256 digest (the platform's pins live in components/versions.py)."),
    ])
    # An empty tag is the chart's own appVersion, pinned by the exact chart version.
    assert analyze(RELEASE_T, "flagger", helm_release({"image": {"repository": "ghcr.io/fluxcd/flagger",
                                                                 "tag": ""}, "global": {"image": {"tag": "v3.4.4"}}})) == []


def test_a_flux_image_repository_names_a_repository_not_an_image_to_run():
    repo = {"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": meta("shop", "flux-system"), "spec": {"image": "quay.io/org/shop", "interval": "1m"}}
    assert analyze("kubernetes:image.toolkit.fluxcd.io/v1:ImageRepository", "repo", repo) == []


def test_policy_and_program_agree_on_what_a_pinned_image_and_url_are():
    images = ["nginx", "nginx:latest", "nginx:1.27", "host:5000/app", "host:5000/app:1.0", "quay.io/o/a:stable",
              "quay.io/o/a:v1.2.3", f"quay.io/o/a@{DIGEST}", "alpine:edge", "alpine:3.22.1",
              *(getattr(PINNED, f) for f in type(PINNED).model_fields if f.startswith("image_"))]
    for image in images:
        assert (gp.image_problem(image) is None) == image_is_pinned(image), image
    urls = [PINNED.tekton_pipelines_url, PINNED.tekton_dashboard_url,
            "https://github.com/fluxcd/flux2/releases/download/v2.9.4/install.yaml",
            "https://github.com/fluxcd/flux2/releases/latest/download/install.yaml",
            "https://raw.githubusercontent.com/fluxcd/flagger/main/artifacts/flagger/crd.yaml",
            "https://storage.googleapis.com/tekton-releases/pipeline/latest/release.yaml"]
    for url in urls:
        assert (gp.url_problem(url) is None) == url_is_pinned(url), url


# ---------------------------------------------------------------- 3. RBAC and the CI bot's token
def binding(kind: str, role: str) -> dict:
    body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": meta("argocd-admin", "shop" if kind == "RoleBinding" else None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "argocd-application-controller", "namespace": "argocd"}]}
    return body


def test_binding_to_cluster_admin_is_refused():
    assert analyze(CRB_T, "crb", binding("ClusterRoleBinding", "cluster-admin")) == [("no-cluster-admin", (
        f'{CRB_T} "crb" (argocd-admin): ClusterRoleBinding grants the ClusterRole cluster-admin. Fix: bind a '
        "Role or ClusterRole that lists only the verbs and resources the subject needs."))]
    assert [p for p, _ in analyze(RB_T, "rb", binding("RoleBinding", "cluster-admin"))] == ["no-cluster-admin"]


def test_binding_to_a_scoped_role_passes():
    assert analyze(RB_T, "rb", binding("RoleBinding", "admin")) == []
    assert analyze(CRB_T, "crb", binding("ClusterRoleBinding", "tekton-triggers-eventlistener-clusterroles")) == []


def test_a_role_that_is_cluster_admin_in_all_but_name_is_refused():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta("everything"),
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
    assert analyze(CR_T, "role", role) == [("no-cluster-admin", (
        f'{CR_T} "role" (everything): ClusterRole grants every verb on every resource of every API group, which '
        "is cluster-admin in all but name. Fix: list the API groups, resources and verbs needed."))]
    role["rules"] = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]
    assert analyze(CR_T, "role", role) == []


def test_argocd_chart_left_with_its_wildcard_controller_role_is_refused():
    values = {"controller": {"clusterRoleRules": {"enabled": False}}}
    assert analyze(RELEASE_T, "argocd", helm_release(values, "argo-cd", "10.1.1")) == [("no-cluster-admin", (
        f'{RELEASE_T} "argocd": the argo-cd chart gives the application controller a ClusterRole of \'*\' on '
        "'*' (cluster-admin) unless values.controller.clusterRoleRules is enabled with explicit rules. Fix: set "
        "controller.clusterRoleRules.enabled: true with the rules Argo CD needs, or createClusterRoles: false "
        "with namespaced RBAC."))]
    scoped = {"controller": {"clusterRoleRules": {"enabled": True, "rules": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]}}}
    assert analyze(RELEASE_T, "argocd", helm_release(scoped, "argo-cd", "10.1.1")) == []
    assert analyze(RELEASE_T, "argocd", helm_release({"createClusterRoles": False}, "argo-cd", "10.1.1")) == []


def service_account(name: str, automount: bool | None, annotations: dict | None = None) -> dict:
    body = {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": meta(name, "gitops-ci", **({"annotations": annotations} if annotations else {}))}
    if automount is not None:
        body["automountServiceAccountToken"] = automount
    return body


BOT_MSG = (f'{SA_T} "bot" (gitops-ci/pipeline-bot): the CI bot ServiceAccount mounts a Kubernetes API token into '
           "every pipeline pod (automountServiceAccountToken is not false). Fix: set "
           f"automountServiceAccountToken: false, or annotate it {gp.TOKEN_ANNOTATION}: '<why the pipeline needs "
           "the API>'.")


def test_ci_bot_with_token_automount_is_refused():
    assert analyze(SA_T, "bot", service_account("pipeline-bot", None)) == [("ci-bot-no-token-automount", BOT_MSG)]
    assert analyze(SA_T, "bot", service_account("pipeline-bot", True)) == [("ci-bot-no-token-automount", BOT_MSG)]
    assert analyze(SA_T, "bot", service_account("pipeline-bot", True, {gp.TOKEN_ANNOTATION: " "})) == [
        ("ci-bot-no-token-automount", BOT_MSG)]


def test_ci_bot_without_token_or_with_a_stated_need_passes():
    assert analyze(SA_T, "bot", service_account("pipeline-bot", False)) == []
    needs = {gp.TOKEN_ANNOTATION: "argocd-sync waits on Application health through the Kubernetes API"}
    assert analyze(SA_T, "bot", service_account("pipeline-bot", None, needs)) == []
    # Other ServiceAccounts (the EventListener's needs the API) are not the CI bot.
    assert analyze(SA_T, "listener", service_account("gitops-ci-listener", None)) == []
    config = {"ci-bot-no-token-automount": {"ciBotServiceAccounts": ["release-bot"]}}
    assert [p for p, _ in analyze(SA_T, "bot", service_account("release-bot", None), config)] == [
        "ci-bot-no-token-automount"]


def test_a_pod_that_mounts_the_ci_bot_token_anyway_is_refused():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta("debug", "gitops-ci"),
           "spec": {"serviceAccountName": "pipeline-bot", "automountServiceAccountToken": True,
                    "containers": [{"name": "sh", "image": PINNED.image_test_runner}]}}
    assert analyze("kubernetes:core/v1:Pod", "debug", pod) == [("ci-bot-no-token-automount", (
        'kubernetes:core/v1:Pod "debug" (gitops-ci/debug): spec runs as the CI bot with '
        "automountServiceAccountToken: true. Fix: drop the override (the ServiceAccount keeps tokens off) or use "
        "a dedicated ServiceAccount."))]


# ---------------------------------------------------------------- 4. pinned releases
def release_msg(problem):
    return ("releases-pinned", f'{RELEASE_T} "flagger": {problem}. Fix: set an exact chart version such as '
                               "'1.2.3' (pins live in components/versions.py).")


def test_helm_releases_without_an_exact_version_are_refused():
    assert analyze(RELEASE_T, "flagger", helm_release({}, version=None)) == [release_msg(
        "chart 'flagger' has no version, so Helm installs whatever is newest")]
    assert analyze(RELEASE_T, "flagger", helm_release({}, version="^1.44.0")) == [release_msg(
        "chart 'flagger' version '^1.44.0' is not an exact version (a range or partial version floats)")]
    assert [p for p, _ in analyze(RELEASE_T, "flagger", helm_release({}, version="1.44"))] == ["releases-pinned"]


def test_helm_releases_at_an_exact_version_pass():
    assert analyze(RELEASE_T, "flagger", helm_release({}, version=PINNED.flagger_chart_version)) == []
    chart = {"chart": "oci://ghcr.io/argoproj/argo-helm/argo-cd", "version": "10.1.1",
             "values": {"createClusterRoles": False}}
    assert analyze("kubernetes:helm.sh/v4:Chart", "argocd", chart) == []


def test_release_manifest_urls_must_name_a_version():
    latest = "https://github.com/fluxcd/flux2/releases/latest/download/install.yaml"
    assert analyze(CONFIGFILE_T, "flux", {"file": latest}) == [("releases-pinned", (
        f'{CONFIGFILE_T} "flux": release manifest URL {latest!r} follows the moving \'latest\'. Fix: point it at '
        "a versioned release asset (…/v1.2.3/release.yaml)."))]
    crds = "https://raw.githubusercontent.com/fluxcd/flagger/main/artifacts/flagger/crd.yaml"
    assert [m for _, m in analyze(CONFIGGROUP_T, "crds", {"files": [PINNED.tekton_pipelines_url, crds]})] == [
        f'{CONFIGGROUP_T} "crds": release manifest URL {crds!r} follows the moving \'main\'. Fix: point it at a '
        "versioned release asset (…/v1.2.3/release.yaml)."]
    assert analyze(CONFIGFILE_T, "tekton", {"file": PINNED.tekton_pipelines_url}) == []
    assert analyze(CONFIGGROUP_T, "local", {"files": ["manifests/*.yaml"]}) == []


def test_yaml_v1_components_are_refused_because_their_url_is_invisible():
    assert analyze("kubernetes:yaml:ConfigFile", "old", {}) == [("releases-pinned", (
        'kubernetes:yaml:ConfigFile "old": yaml v1 components register without their file or URL, so the pin '
        "cannot be checked. Fix: use kubernetes:yaml/v2:ConfigFile / ConfigGroup."))]


def catalog_pipeline(revision: str | None) -> dict:
    params = [{"name": "url", "value": PINNED.git_clone_task_url},
              {"name": "pathInRepo", "value": "task/git-clone/git-clone.yaml"}]
    if revision is not None:
        params.append({"name": "revision", "value": revision})
    return {"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": meta("ci", "gitops-ci"),
            "spec": {"tasks": [{"name": "clone", "taskRef": {"resolver": "git", "params": params}}]}}


def test_remote_tekton_tasks_must_be_pinned_to_a_commit_or_tag():
    found = analyze("kubernetes:tekton.dev/v1:Pipeline", "ci", catalog_pipeline("main"))
    assert found == [("releases-pinned", (
        'kubernetes:tekton.dev/v1:Pipeline "ci" (gitops-ci/ci): the git resolver reference at '
        "spec.tasks[0].taskRef has revision 'main', which is not a commit SHA or an exact version tag. Fix: pin "
        "it (commit SHA or release tag; versions.gitCloneTaskRevision, versions.kanikoTaskRevision)."))]
    assert [p for p, _ in analyze("kubernetes:tekton.dev/v1:Pipeline", "ci", catalog_pipeline(None))] == [
        "releases-pinned"]
    assert analyze("kubernetes:tekton.dev/v1:Pipeline", "ci", catalog_pipeline(CATALOG_SHA)) == []


# ---------------------------------------------------------------- 5. secrets
def k8s_secret(string_data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta("git-auth", "gitops-ci"),
            "stringData": string_data}


def test_the_sdk_alone_hides_secrets_from_validations():
    # Why the pack installs secret markers: pulumi-policy's Analyze path unwraps secrets silently.
    assert sdk_deserialize.deserialize_properties({"token": secret("s3cr3t")}) == {"token": "s3cr3t"}


def test_secret_with_plain_data_is_refused():
    found = analyze(SECRET_T, "git-auth", k8s_secret({"username": "ci-bot", "password": "hunter2",
                                                      "token": secret("t0ken")}))
    assert found == [("secrets-from-pulumi-secrets", (
        f'{SECRET_T} "git-auth" (gitops-ci/git-auth): stringData key(s) password, username are plain values, not '
        "Pulumi secrets, so they are stored unencrypted in the state and shown in diffs. Fix: take them from "
        "`pulumi config set --secret` or pulumi_random and pass them as secret Outputs (pulumi.Output.secret)."))]
    assert "hunter2" not in found[0][1]


def test_secret_whose_values_are_pulumi_secrets_passes():
    assert analyze(SECRET_T, "git-auth", k8s_secret({"username": secret("ci-bot"), "password": secret("x")})) == []
    # A whole map made secret at once (pulumi.Output.secret({...})) counts for every key in it.
    whole = k8s_secret({})
    whole["stringData"] = secret({"username": "ci-bot", "password": "x"})
    assert analyze(SECRET_T, "git-auth", whole) == []


def test_secret_inlined_into_a_manifest_is_refused():
    inline = k8s_secret({"password": secret("x")})
    found = analyze(CONFIGGROUP_T, "extras", {"objs": [inline]})
    assert found == [("secrets-from-pulumi-secrets", (
        f'{CONFIGGROUP_T} "extras" (Secret gitops-ci/git-auth) at objs[0]: a Secret written into a manifest '
        "carries its data in plain text. Fix: create it as kubernetes:core/v1:Secret with values from `pulumi "
        "config set --secret` or pulumi_random, wrapped in pulumi.Output.secret."))]


def test_chart_credentials_must_be_pulumi_secrets():
    plain = {"configs": {"secret": {"githubSecret": "webhook-secret"}}, "createClusterRoles": False}
    assert analyze(RELEASE_T, "argocd", helm_release(plain, "argo-cd", "10.1.1")) == [(
        "secrets-from-pulumi-secrets",
        f'{RELEASE_T} "argocd": chart value configs.secret.githubSecret carries a credential as a plain value. '
        "Fix: pass it as a secret Output (config secret or pulumi_random).")]
    wrapped = {"configs": {"secret": {"githubSecret": secret("webhook-secret")}}, "createClusterRoles": False}
    assert analyze(RELEASE_T, "argocd", helm_release(wrapped, "argo-cd", "10.1.1")) == []


# ---------------------------------------------------------------- the pack, and the platform under it
def test_the_pack_is_mandatory_and_runs_every_policy(monkeypatch):
    import pulumi_policy

    built = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    monkeypatch.syspath_prepend(str(ROOT / "policy"))
    runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="__main__")
    assert built["enforcement_level"] == EnforcementLevel.MANDATORY
    assert [p.name for p in built["policies"]] == [p.name for p in gp.POLICIES]
    assert all(p.enforcement_level in (None, EnforcementLevel.MANDATORY) for p in built["policies"])
    assert "pulumi-policy==" in (ROOT / "policy" / "requirements.txt").read_text()
    assert "name: python" in (ROOT / "policy" / "PulumiPolicy.yaml").read_text()


def _wire(masked, raw):
    """A recorded input back in wire form: values the program made secret become secret envelopes."""
    if masked == SECRET:
        return secret(raw)
    if isinstance(masked, dict):
        return {key: _wire(value, (raw or {}).get(key)) for key, value in masked.items()}
    if isinstance(masked, list):
        return [_wire(m, r) for m, r in zip(masked, raw or [None] * len(masked), strict=True)]
    return masked


def policy_violations(result: RunResult, stack: str, monkeypatch) -> list[str]:
    """Every violation the pack reports over everything a mocked run registered, as `pulumi preview`
    would send it (with the CLI's PULUMI_STACK)."""
    assert not result.errors, result.errors
    monkeypatch.setenv("PULUMI_STACK", stack)
    service = servicer()
    found, resources = [], []
    for reg in result.resources:
        props = struct(_wire(reg.inputs, reg.raw_inputs))
        request = proto.AnalyzeRequest(type=reg.type, urn=reg.urn, name=reg.name, properties=props,
                                       options=proto.AnalyzerResourceOptions(protect=reg.protect, parent=reg.parent))
        found += [f"{p}: {m}" for p, m in _violations(service.Analyze(request, None).diagnostics)]
        resources.append(proto.AnalyzerResource(type=reg.type, urn=reg.urn, name=reg.name, properties=props,
                                                parent=reg.parent, dependencies=reg.dependencies))
    stack_diags = service.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None).diagnostics
    return found + [f"{p}: {m}" for p, m in _violations(stack_diags)]


def test_every_stack_passes_every_policy(stack_result, monkeypatch):
    stack, result = stack_result
    kinds = {r.type for r in result.resources}
    assert {APP_T, PROJECT_T, RELEASE_T} <= kinds  # the policies have something to judge
    assert policy_violations(result, stack, monkeypatch) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_platform_with_every_feature_on_passes_every_policy(run, base_config, stack, monkeypatch):
    config = copy.deepcopy(base_config)
    config["imageUpdates"] = "flux"
    config["apps"] = [dict(app, imagePolicy={"semver": ">=1.0.0"}, canary={"enabled": True})
                      for app in config["apps"]]
    result = run(config, stack=stack)
    assert policy_violations(result, stack, monkeypatch) == []


def test_the_stack_check_sees_one_broken_resource(stack_result, monkeypatch):
    stack, result = stack_result
    broken = copy.deepcopy(result)
    task = next(r for r in broken.resources if r.type == TASK_T)
    step = task.inputs["spec"]["steps"][0]
    step["image"] = "alpine"
    found = [v for v in policy_violations(broken, stack, monkeypatch) if v.startswith("images-pinned")]
    assert found == [f"images-pinned: {TASK_T} \"{task.name}\" ({task.inputs['metadata']['namespace']}/"
                     f"{task.inputs['metadata']['name']}): image 'alpine' at spec.steps[0].image has no tag, so it "
                     "pulls :latest. Fix: pin it to an exact tag or a sha256 digest (the platform's pins live in "
                     "components/versions.py)."]


# ---------------------------------------------------------------- cluster-wide Secret writes
CLUSTER_ROLE_T = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CLUSTER_BINDING_T = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"


def cluster_role(name: str, rules: list[dict]) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(name), "rules": rules}


def cluster_binding(name: str, role: str) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]}


def test_a_cluster_wide_binding_to_a_role_that_writes_secrets_is_refused():
    writer = (CLUSTER_ROLE_T, "writer", cluster_role("writer", [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "patch"]}]))
    reader = (CLUSTER_ROLE_T, "reader", cluster_role("reader", [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]))
    found = analyze_stack([writer, reader, (CLUSTER_BINDING_T, "w", cluster_binding("w", "writer")),
                           (CLUSTER_BINDING_T, "r", cluster_binding("r", "reader"))])
    assert found == [("no-cluster-wide-secret-writes", urn(CLUSTER_BINDING_T, "w"), (
        f"{CLUSTER_BINDING_T} \"w\" (w): ClusterRoleBinding gives ClusterRole 'writer', which writes Secrets, in every "
        "namespace. Fix: bind it with RoleBindings in the namespaces that need it, or drop the write verbs on "
        "secrets."))]
    wildcard = (CLUSTER_ROLE_T, "any", cluster_role("any", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["delete"]}]))
    assert [f[0] for f in analyze_stack([wildcard, (CLUSTER_BINDING_T, "a", cluster_binding("a", "any"))])] == [
        "no-cluster-wide-secret-writes"]


def test_a_cluster_wide_binding_that_updates_only_named_secrets_passes():
    # Tekton Triggers v0.37.0's core-interceptors ClusterRole, as its release.yaml has it.
    named = (CLUSTER_ROLE_T, "interceptors", cluster_role("interceptors", [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "update"],
         "resourceNames": ["tekton-triggers-core-interceptors-certs"]}]))
    assert analyze_stack([named, (CLUSTER_BINDING_T, "i", cluster_binding("i", "interceptors"))]) == []
    unnamed = (CLUSTER_ROLE_T, "interceptors", cluster_role("interceptors", [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "update"]}]))
    assert [f[0] for f in analyze_stack([unnamed, (CLUSTER_BINDING_T, "i", cluster_binding("i", "interceptors"))])] \
        == ["no-cluster-wide-secret-writes"]


def test_a_chart_rendered_secret_writer_is_allowed_by_its_chart_label_only_when_listed():
    # cert-manager v1.21.1's controller role, as `helm template` renders it (the render's chart expansion).
    role = cluster_role("cert-manager-controller-certificates", [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update", "delete", "patch"]}])
    role["metadata"]["labels"] = {"helm.sh/chart": "cert-manager-v1.21.1"}
    resources = [(CLUSTER_ROLE_T, "certificates", role),
                 (CLUSTER_BINDING_T, "c", cluster_binding("c", "cert-manager-controller-certificates"))]
    assert analyze_stack(resources) == []
    service = servicer({"no-cluster-wide-secret-writes": {"allowSecretWriters": ["flagger"]}})
    request = proto.AnalyzeStackRequest(resources=[proto.AnalyzerResource(
        type=t, urn=urn(t, n), name=n, properties=struct(p)) for t, n, p in resources])
    [(policy, message)] = _violations(service.AnalyzeStack(request, None).diagnostics)
    assert policy == "no-cluster-wide-secret-writes" and "'cert-manager-controller-certificates'" in message
    assert gp.chart_of(role) == "cert-manager" and gp.chart_of(cluster_role("x", [])) is None


def test_flagger_writes_secrets_cluster_wide_and_is_allowed_by_the_documented_default():
    flagger = (RELEASE_T, "flagger", helm_release({"meshProvider": "gatewayapi:v1"}))
    assert analyze_stack([flagger]) == []
    service = servicer({"no-cluster-wide-secret-writes": {"allowSecretWriters": []}})
    request = proto.AnalyzeStackRequest(resources=[proto.AnalyzerResource(
        type=RELEASE_T, urn=urn(RELEASE_T, "flagger"), name="flagger", properties=struct(flagger[2]))])
    [(policy, message)] = _violations(service.AnalyzeStack(request, None).diagnostics)
    assert policy == "no-cluster-wide-secret-writes"
    assert "the flagger chart binds a ClusterRole that can write Secrets in every namespace" in message


def test_the_pack_as_a_binary_analyzer_announces_its_port_on_a_pipe():
    """`pulumi preview --policy-pack policy/pulumi-analyzer-policy` (the cluster test's way, without
    pulumi-language-python): the CLI reads the Analyzer's port from the pack's stdout, a pipe. pulumi_policy
    writes it without a flush, so without `python -u` the CLI waits forever (found by the real engine)."""
    import select
    import subprocess
    import sys
    from pathlib import Path
    wrapper = Path(__file__).resolve().parent.parent / "policy" / "pulumi-analyzer-policy"
    process = subprocess.Popen([str(wrapper), "127.0.0.1:1"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env={"PATH": "/usr/bin:/bin", "PULUMI_POLICY_PYTHON": sys.executable})
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the pack printed no port within 60 s"
        assert process.stdout.readline().strip().isdigit()
    finally:
        process.kill()
        process.wait()


def test_a_v4_chart_as_the_real_engine_registers_it_is_not_a_violation():
    """Under the real engine the analyzer sees the provider's own registration of a helm.sh/v4 Chart (a remote
    component), without its inputs: the real `pulumi preview --policy-pack` failed every stack with the Gateway
    on ("chart None has no version"). A Chart that does carry a chart without a version is still refused."""
    assert analyze("kubernetes:helm.sh/v4:Chart", "gitops-gateway-crds", {}) == []
    assert analyze("kubernetes:helm.sh/v4:Chart", "crds", {"chart": "oci://docker.io/envoyproxy/gateway-crds-helm"}) \
        == [("releases-pinned", 'kubernetes:helm.sh/v4:Chart "crds": chart '
             "'oci://docker.io/envoyproxy/gateway-crds-helm' has no version, so Helm installs whatever is newest. "
             "Fix: set an exact chart version such as '1.2.3' (pins live in components/versions.py).")]
