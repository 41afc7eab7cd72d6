"""Tekton: pinned installs, pipeline-bot identity, Tasks and Pipelines whose references all resolve, the
GitHub triggers, and the cost of many apps, proven on the real program under mocks."""
from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import subprocess

import pytest
import yaml

from components.config import ConfigError, load_config
from components.tekton import references
from components.versions import Versions
from tests.conftest import ROOT
from tools.mockrun import FAKE_GENERATED

PINS = Versions()
CONFIGFILE = "kubernetes:yaml/v2:ConfigFile"
TEKTON_TYPE = "gitops-platform:tekton:Tekton"
ALL_SECRETS = {
    "gitToken": "ghp_known_git_token_value_123456",
    "registryPassword": "known-registry-password-987654",
    "argocdWebhookSecret": "known-argocd-webhook-secret-555",
}
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nknown-ssh-key-material-424242\n-----END OPENSSH PRIVATE KEY-----"
KNOWN_HOSTS = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def tekton_objects(result):
    return [r for r in result.k8s_objects()
            if r.inputs["apiVersion"].startswith(("tekton.dev/", "triggers.tekton.dev/"))]


def manifests_of(regs):
    return [r.manifest() for r in regs]


def of_kind(result, kind):
    return [r for r in result.k8s_objects() if r.inputs.get("kind") == kind]


def install(result, which):
    [found] = [r for r in result.of_type(CONFIGFILE) if r.name.endswith(f"-tekton-{which}")]
    return found


def pipeline(result, name):
    return result.find("Pipeline", name, "gitops-ci").inputs["spec"]


def task(result, name):
    return result.find("Task", name, "gitops-ci").inputs["spec"]


def pipeline_task(spec, name):
    [found] = [t for t in spec["tasks"] if t["name"] == name]
    return found


# ---------------------------------------------------------------- references
def test_every_task_ref_resolves_and_every_reference_is_declared(run, base_config):
    result = run(base_config, secrets=ALL_SECRETS)
    assert result.errors == []
    docs = manifests_of(tekton_objects(result))
    assert references.problems(docs) == []
    tasks = {d["metadata"]["name"] for d in docs if d["kind"] == "Task"}
    assert tasks == {"git-version", "run-tests", "deploy-image", "notify-argocd", "wait-for-deploy", "release-gate",
                     "release-source",
                     "tag-image", "promote-release", "open-pull-request"}
    refs = [t["taskRef"] for d in docs if d["kind"] == "Pipeline" for t in d["spec"]["tasks"]]
    remote = [r for r in refs if "resolver" in r]
    assert {r["name"] for r in refs if "name" in r} <= tasks
    # git-clone and kaniko are the maintained successors of the deprecated catalog tasks, at release commits
    expected = {"task/git-clone/git-clone.yaml": ("https://github.com/tektoncd-catalog/git-clone.git",
                                                  PINS.git_clone_task_revision),
                "task/kaniko/kaniko.yaml": ("https://github.com/tektoncd-catalog/kaniko.git", PINS.kaniko_task_revision)}
    assert {ref["params"][2]["value"] for ref in remote} == set(expected)
    for ref in remote:
        params = {p["name"]: p["value"] for p in ref["params"]}
        assert ref["resolver"] == "git"
        assert (params["url"], params["revision"]) == expected[params["pathInRepo"]]
        assert re.fullmatch(r"[0-9a-f]{40}", params["revision"])


def _break(docs, kind, name, mutate):
    broken = copy.deepcopy(docs)
    [target] = [d for d in broken if d["kind"] == kind and d["metadata"]["name"] == name]
    mutate(target["spec"])
    return references.problems(broken)


def _ptask(spec, name):
    return pipeline_task(spec, name)


BREAKAGES = {
    "undeclared pipeline param": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "test")["params"].append(
        {"name": "script", "value": "$(params.no-such-param)"}), "$(params.no-such-param) is not a pipeline param"),
    "unknown task result": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "deploy")["params"].__setitem__(
        3, {"name": "digest", "value": "$(tasks.build-and-push.results.DIGEST)"}), "declares no result 'DIGEST'"),
    "unknown task in result": ("Pipeline", "stage-release", lambda s: s["results"].append(
        {"name": "x", "value": "$(tasks.nope.results.commit)"}), "names no task of the pipeline"),
    "undefined local task": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "version").__setitem__(
        "taskRef", {"name": "git-versoin"}), "names no Task defined by the platform"),
    "floating resolver revision": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "clone-source")["taskRef"][
        "params"].__setitem__(1, {"name": "revision", "value": "main"}), "is not a 40-hex commit SHA"),
    "unknown catalog file": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "clone-source")["taskRef"][
        "params"].__setitem__(2, {"name": "pathInRepo", "value": "task/git-clone/9.9/git-clone.yaml"}),
        "is not a known remote task"),
    "missing required task param": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "build-and-push").__setitem__(
        "params", []), "required task param 'IMAGE' is not passed"),
    "unbound required workspace": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "deploy").__setitem__(
        "workspaces", []), "required task workspace 'config' is not bound"),
    "undeclared pipeline workspace": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "version")["workspaces"][0]
        .__setitem__("workspace", "sources"), "'sources' is not a pipeline workspace"),
    "runAfter unknown task": ("Pipeline", "stage-release", lambda s: _ptask(s, "tag-image")["runAfter"].append(
        "extract"), "runAfter 'extract'"),
    "undeclared task param in a step": ("Task", "deploy-image", lambda s: s["steps"][0]["env"].append(
        {"name": "X", "value": "$(params.commit-msg)"}), "$(params.commit-msg) is not a declared param"),
    "undeclared task result": ("Task", "git-version", lambda s: s.__setitem__("results", []),
                               "$(results.version.path) is not a declared result"),
    "undeclared task workspace": ("Task", "release-source", lambda s: s.__setitem__("workspaces", []),
                                  "$(workspaces.config...) is not a declared workspace"),
    "latest image": ("Task", "tag-image", lambda s: s["steps"][0].__setitem__("image", "quay.io/skopeo/stable:latest"),
                     "is not pinned"),
    "untagged image": ("Task", "git-version", lambda s: s["steps"][0].__setitem__("image", "alpine/git"),
                       "is not pinned"),
    "unpinned image param": ("Pipeline", "gitops-ci", lambda s: _ptask(s, "test")["params"].__setitem__(
        0, {"name": "image", "value": "maven:latest"}), "image param image = 'maven:latest' is not pinned"),
    "template param not bound": ("TriggerTemplate", "gitops-ci-run", lambda s: s["params"].append(
        {"name": "extra"}), "template param 'extra' gets no value"),
    "pipeline param not passed": ("TriggerTemplate", "gitops-ci-run", lambda s: s["resourcetemplates"][0]["spec"]
        .__setitem__("params", []), "required pipeline param 'app-name' is not passed"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_reference_checker_reports_each_kind_of_broken_reference(run, base_config, breakage):
    kind, name, mutate, message = BREAKAGES[breakage]
    docs = manifests_of(tekton_objects(run(base_config, secrets=ALL_SECRETS)))
    found = _break(docs, kind, name, mutate)
    assert any(message in line for line in found), found


def test_every_platform_step_image_is_pinned_by_tag_and_digest(run, base_config):
    result = run(base_config, secrets=ALL_SECRETS)
    images = {}
    for reg in of_kind(result, "Task"):
        spec = reg.inputs["spec"]
        defaults = {p["name"]: p.get("default") for p in spec.get("params") or []}
        for step in spec["steps"]:
            image = step["image"]
            chosen = re.fullmatch(r"\$\(params\.([a-z-]+)\)", image)
            images[(reg.inputs["metadata"]["name"], step["name"])] = defaults[chosen[1]] if chosen else image
    for image in images.values():
        assert re.fullmatch(r"[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}", image), image
    assert images[("deploy-image", "deploy")] == PINS.image_git
    assert images[("run-tests", "test")] == PINS.image_test_runner
    assert images[("notify-argocd", "notify")] == PINS.image_python
    assert images[("tag-image", "tag")] == PINS.image_skopeo
    # The pipeline passes its own pinned default for the test image, and the builder image to kaniko.
    spec = pipeline(result, "gitops-ci")
    assert {p["name"]: p.get("default") for p in spec["params"]}["test-image"] == PINS.image_test_runner
    build = {p["name"]: p["value"] for p in pipeline_task(spec, "build-and-push")["params"]}
    assert build["BUILDER_IMAGE"] == PINS.image_kaniko


def test_a_floating_test_image_is_a_config_error(base_config):
    base_config["tekton"] = {"testImage": "maven:latest"}
    with pytest.raises(ConfigError) as err:
        load_config(base_config, "dev")
    assert err.value.lines == ["gitops-platform:tekton.testImage: 'maven:latest' is not pinned to an exact tag "
                               "or digest"]


@pytest.mark.parametrize("key,value,message", [
    ("deployBranch", "main branch", "is not a valid git branch name"),
    ("releaseBranchPrefix", "../rel-", "is not a valid git branch name prefix"),
    ("storage", "lots", "is not a positive Kubernetes storage quantity like 1Gi"),
    ("storage", "0Gi", "(must be greater than zero)"),
    ("githubApiUrl", "http://api.github.com", "must be a URL starting with https://"),
])
def test_invalid_tekton_settings_name_their_key(base_config, key, value, message):
    base_config["tekton"] = {key: value}
    with pytest.raises(ConfigError) as err:
        load_config(base_config, "dev")
    assert len(err.value.lines) == 1 and err.value.lines[0].startswith(f"gitops-platform:tekton.{key}: ")
    assert message in err.value.lines[0]


# ---------------------------------------------------------------- pipelines
def test_gitops_ci_clones_tests_builds_then_deploys_tells_argocd_and_waits(run, base_config):
    spec = pipeline(run(base_config, secrets=ALL_SECRETS), "gitops-ci")
    order = {t["name"]: t.get("runAfter", []) for t in spec["tasks"]}
    assert order == {"clone-source": [], "clone-config": [], "version": ["clone-source"], "test": ["clone-source"],
                     "build-and-push": ["test", "version"], "deploy": ["build-and-push", "clone-config"],
                     "notify-argocd": ["deploy"], "wait-for-deploy": ["notify-argocd"]}
    deploy = {p["name"]: p["value"] for p in pipeline_task(spec, "deploy")["params"]}
    assert deploy["digest"] == "$(tasks.build-and-push.results.IMAGE_DIGEST)"
    assert deploy["version"] == "$(tasks.version.results.version)"
    assert deploy["source-time"] == "$(tasks.version.results.commit-time)"
    build = {p["name"]: p["value"] for p in pipeline_task(spec, "build-and-push")["params"]}
    assert build["IMAGE"] == "$(params.image):$(tasks.version.results.version)"
    assert build["CONTEXT"] == "$(params.context)" and build["DOCKERFILE"] == "$(params.dockerfile)"
    # one volume, two subPaths: Tekton's affinity assistant refuses a task that binds two claims
    assert pipeline_task(spec, "clone-source")["workspaces"] == [{"name": "output", "workspace": "work",
                                                                  "subPath": "source"}]
    assert pipeline_task(spec, "deploy")["workspaces"] == [{"name": "config", "workspace": "work", "subPath": "config"}]
    assert {"name": "image-digest", "value": "$(tasks.build-and-push.results.IMAGE_DIGEST)",
            "description": "Digest of the image pushed."} in spec["results"]


def test_only_the_deploy_branch_of_a_dev_environment_writes_the_overlay(run, base_config):
    base_config["tekton"] = {"deployBranch": "trunk"}
    for stack, environment in (("dev", "dev"), ("prod", "prod")):
        spec = pipeline(run(base_config, stack=stack, secrets=ALL_SECRETS), "gitops-ci")
        defaults = {p["name"]: p.get("default") for p in spec["params"]}
        assert defaults["deploy-branch"] == "trunk" and defaults["environment"] == environment
        guard = [{"input": "$(params.source-branch)", "operator": "in", "values": ["$(params.deploy-branch)"]},
                 {"input": "$(params.environment)", "operator": "in", "values": ["dev"]},
                 {"input": "$(params.image-updates)", "operator": "in", "values": ["tekton"]}]
        assert defaults["image-updates"] == "tekton"
        assert pipeline_task(spec, "deploy")["when"] == guard and pipeline_task(spec, "clone-config")["when"] == guard
        pushed = {"input": "$(tasks.deploy.results.commit)", "operator": "notin", "values": [""]}
        assert pipeline_task(spec, "notify-argocd")["when"] == [pushed]
        assert pipeline_task(spec, "wait-for-deploy")["when"] == [
            pushed, {"input": "$(params.wait-for-deploy)", "operator": "in", "values": ["true"]}]


def test_with_flux_image_updates_the_pipeline_only_builds_and_pushes(run, base_config):
    base_config["imageUpdates"] = "flux"
    base_config["apps"] = [dict(app, imagePolicy={"semver": ">=1.0.0"}) for app in base_config["apps"]]
    spec = pipeline(run(base_config, stack="dev", secrets=ALL_SECRETS), "gitops-ci")
    defaults = {p["name"]: p.get("default") for p in spec["params"]}
    # Flux writes image references by policy; the overlay writers are skipped by their `when` guard.
    assert defaults["image-updates"] == "flux"
    assert {"input": "$(params.image-updates)", "operator": "in", "values": ["tekton"]} \
        in pipeline_task(spec, "deploy")["when"]


def test_stage_release_promotes_through_a_generated_branch_and_a_pull_request(run, base_config):
    base_config["tekton"] = {"releaseBranchPrefix": "rel/"}
    spec = pipeline(run(base_config, stack="staging"), "stage-release")
    names = [t["name"] for t in spec["tasks"]]
    assert names == ["clone-config", "release-source", "release-gate", "tag-image", "promote", "open-pull-request"]
    assert pipeline_task(spec, "release-source")["when"] == [
        {"input": "$(params.release-version)", "operator": "notin", "values": [""]}]
    params = lambda n: {p["name"]: p["value"] for p in pipeline_task(spec, n)["params"]}  # noqa: E731
    assert params("release-source")["source-overlay"] == "$(params.source-overlay)"
    assert params("tag-image") == {"image": "$(params.image)", "reference": "$(tasks.release-source.results.reference)",
                                   "tag": "$(params.release-version)", "tls-verify": "true"}
    assert params("promote")["target-overlay"] == "$(params.target-overlay)"
    assert params("promote")["digest"] == "$(tasks.tag-image.results.digest)"
    assert params("promote")["branch"] == "$(params.release-branch-prefix)$(params.release-version)"
    pr = params("open-pull-request")
    assert pr["head"] == params("promote")["branch"] and pr["base"] == "$(params.config-revision)"
    assert pipeline_task(spec, "open-pull-request")["when"] == [
        {"input": "$(tasks.promote.results.changed)", "operator": "in", "values": ["true"]}]
    defaults = {p["name"]: p.get("default") for p in spec["params"]}
    assert defaults["release-branch-prefix"] == "rel/"
    assert defaults["api-url"] == "https://api.github.com"
    assert defaults["config-repository"] == "org/gitops-config"
    pr_task = task(run(base_config, stack="staging"), "open-pull-request")
    token = [e for e in pr_task["steps"][0]["env"] if e["name"] == "TOKEN"]
    assert token == [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "pipeline-bot-git", "key": "password"}}}]


def test_without_an_api_token_stage_release_stops_at_the_pushed_branch(run, base_config):
    result = run(base_config, secrets={"registryPassword": "x"})
    names = [t["name"] for t in pipeline(result, "stage-release")["tasks"]]
    assert names[-1] == "promote" and "open-pull-request" not in names
    assert not [r for r in of_kind(result, "Task") if r.inputs["metadata"]["name"] == "open-pull-request"]
    assert references.problems(manifests_of(tekton_objects(result))) == []


def test_step_scripts_take_every_value_from_the_environment(run, base_config):
    for reg in of_kind(run(base_config, secrets=ALL_SECRETS), "Task"):
        for step in reg.inputs["spec"]["steps"]:
            script = step.get("script", "")
            # A param value spliced into script text would be code; only paths Tekton computes appear there.
            assert "$(params." not in script, reg.inputs["metadata"]["name"]
    deploy = task(run(base_config), "deploy-image")["steps"][0]
    env = {e["name"]: e.get("value") for e in deploy["env"]}
    assert env["DIGEST"] == "$(params.digest)" and env["CREDENTIALS"] == "$(credentials.path)"
    assert "StrictHostKeyChecking=no" not in deploy["script"]
    assert deploy["securityContext"] == {"runAsUser": 65532, "runAsNonRoot": True, "allowPrivilegeEscalation": False}


def test_every_task_script_passes_shellcheck_or_compiles(run, base_config, tmp_path):
    result = run(base_config, secrets=ALL_SECRETS)
    scripts = [(r.inputs["metadata"]["name"], s["script"]) for r in of_kind(result, "Task")
               for s in r.inputs["spec"]["steps"] if s.get("script")]
    assert len(scripts) >= 9
    shellcheck = shutil.which("shellcheck")
    for name, script in scripts:
        if script.startswith("#!/usr/bin/env python3"):
            compile(script, name, "exec")
            continue
        path = tmp_path / f"{name}.sh"
        path.write_text(script)
        if shellcheck:   # busybox ash is what runs them: check as POSIX sh
            checked = subprocess.run([shellcheck, "--shell=sh", "--severity=style", str(path)], capture_output=True,
                                     text=True)
        else:
            checked = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{name}: {checked.stdout}{checked.stderr}"


def test_notify_argocd_exists_when_argocd_has_a_webhook_secret_and_signs_with_a_copy(run, base_config):
    with_secret = run(base_config, secrets=ALL_SECRETS)
    notify = pipeline_task(pipeline(with_secret, "gitops-ci"), "notify-argocd")
    assert notify["runAfter"] == ["deploy"]
    env = task(with_secret, "notify-argocd")["steps"][0]["env"]
    assert {"name": "WEBHOOK_SECRET", "valueFrom": {"secretKeyRef": {"name": "argocd-webhook", "key": "secret"}}} in env
    defaults = {p["name"]: p.get("default") for p in pipeline(with_secret, "gitops-ci")["params"]}
    assert defaults["argocd-webhook-url"] == "http://argocd-server.argocd.svc.cluster.local/api/webhook"  # kind: no TLS
    copy_ = with_secret.find("Secret", "argocd-webhook", "gitops-ci")
    assert copy_.secret_paths == ["stringData"]
    matches = copy_.raw_inputs["stringData"] == {"secret": ALL_SECRETS["argocdWebhookSecret"]}
    assert matches, "secret data differs from what was set (values are not shown)"
    base_config["argocd"] = {"webhook": False}
    without = run(base_config)
    assert "notify-argocd" not in [t["name"] for t in pipeline(without, "gitops-ci")["tasks"]]
    assert pipeline_task(pipeline(without, "gitops-ci"), "wait-for-deploy")["runAfter"] == ["deploy"]


# ---------------------------------------------------------------- identity
def test_token_mode_secrets_are_annotated_and_secret(run, base_config):
    result = run(base_config, secrets=ALL_SECRETS)
    git = result.find("Secret", "pipeline-bot-git", "gitops-ci")
    assert git.inputs["type"] == "kubernetes.io/basic-auth"
    assert git.inputs["metadata"]["annotations"] == {"tekton.dev/git-0": "https://github.com"}
    assert git.secret_paths == ["stringData"]
    assert git.inputs["stringData"] == {"username": "[secret]", "password": "[secret]"}
    matches = git.raw_inputs["stringData"] == {"username": "ci-bot", "password": ALL_SECRETS["gitToken"]}
    assert matches, "secret data differs from what was set (values are not shown)"

    registry = result.find("Secret", "pipeline-bot-registry", "gitops-ci")
    assert registry.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert registry.inputs["metadata"]["annotations"] == {"tekton.dev/docker-0": "https://quay.io"}
    assert registry.secret_paths == ["stringData"]
    assert ALL_SECRETS["registryPassword"] not in json.dumps(registry.inputs)
    config = json.loads(registry.raw_inputs["stringData"][".dockerconfigjson"])
    auth = config["auths"]["https://quay.io"]
    assert auth["username"] == "ci-bot" and auth["password"] == ALL_SECRETS["registryPassword"]
    assert base64.b64decode(auth["auth"]).decode() == f"ci-bot:{ALL_SECRETS['registryPassword']}"

    bot = result.find("ServiceAccount", "pipeline-bot", "gitops-ci")
    assert bot.inputs["secrets"] == [{"name": "pipeline-bot-git"}, {"name": "pipeline-bot-registry"}]
    assert bot.inputs["automountServiceAccountToken"] is False
    # The registry Secret is also the kaniko/skopeo docker config workspace of every run.
    run_spec = result.find("TriggerTemplate", "gitops-ci-run", "gitops-ci").inputs["spec"]["resourcetemplates"][0]
    assert {"name": "dockerconfig", "secret": {"secretName": "pipeline-bot-registry", "items": [
        {"key": ".dockerconfigjson", "path": "config.json"}]}} in run_spec["spec"]["workspaces"]
    assert run_spec["spec"]["taskRunTemplate"] == {"serviceAccountName": "pipeline-bot", "podTemplate": {
        "securityContext": {"fsGroup": 65532, "fsGroupChangePolicy": "OnRootMismatch"}}}


def test_docker_hub_credentials_use_the_docker_hub_key(run, base_config):
    base_config["registry"] = {"server": "docker.io", "username": "bot"}
    registry = run(base_config).find("Secret", "pipeline-bot-registry", "gitops-ci")
    assert registry.inputs["metadata"]["annotations"] == {"tekton.dev/docker-0": "https://index.docker.io/v1/"}
    auths = list(json.loads(registry.raw_inputs["stringData"][".dockerconfigjson"])["auths"])
    assert auths == ["https://index.docker.io/v1/"]


def test_ssh_mode_uses_a_deploy_key_with_pinned_host_keys(run, base_config):
    base_config["configRepo"]["url"] = "git@github.com:org/gitops-config.git"
    base_config["tekton"] = {"gitAuth": "ssh", "sshKnownHosts": KNOWN_HOSTS}
    result = run(base_config, secrets={"gitSshPrivateKey": SSH_KEY, "gitToken": ALL_SECRETS["gitToken"]})
    assert result.errors == []
    ssh = result.find("Secret", "pipeline-bot-ssh", "gitops-ci")
    assert ssh.inputs["type"] == "kubernetes.io/ssh-auth"
    assert ssh.inputs["metadata"]["annotations"] == {"tekton.dev/git-0": "github.com"}
    assert ssh.secret_paths == ["stringData"]
    matches = ssh.raw_inputs["stringData"] == {"ssh-privatekey": SSH_KEY + "\n", "known_hosts": KNOWN_HOSTS}
    assert matches, "secret data differs from what was set (values are not shown)"
    with pytest.raises(KeyError):
        result.find("Secret", "pipeline-bot-git", "gitops-ci")
    bot = result.find("ServiceAccount", "pipeline-bot", "gitops-ci")
    assert bot.inputs["secrets"] == [{"name": "pipeline-bot-ssh"}]
    # The deploy key cannot call the GitHub API: the token gets its own Secret for the release PR.
    api = result.find("Secret", "pipeline-bot-git-api", "gitops-ci")
    assert api.secret_paths == ["stringData"] and "annotations" not in api.inputs["metadata"]
    env = task(result, "open-pull-request")["steps"][0]["env"]
    assert {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "pipeline-bot-git-api", "key": "password"}}} in env


def test_known_secret_values_never_appear_outside_pulumi_secrets(run, base_config):
    base_config["configRepo"]["url"] = "git@github.com:org/gitops-config.git"
    base_config["tekton"] = {"gitAuth": "ssh", "sshKnownHosts": KNOWN_HOSTS}
    secrets = {**ALL_SECRETS, "gitSshPrivateKey": SSH_KEY, "tektonWebhookSecret": "known-hook-secret-31337"}
    result = run(base_config, secrets=secrets)
    dumped = json.dumps([r.inputs for r in result.resources]) + json.dumps(result.outputs)
    for value in (*ALL_SECRETS.values(), "known-ssh-key-material-424242", "known-hook-secret-31337"):
        assert value not in dumped


def test_rbac_binds_nothing_to_cluster_admin_and_only_edit_in_the_ci_namespace(run, base_config):
    result = run(base_config, secrets=ALL_SECRETS)
    bindings = of_kind(result, "RoleBinding") + of_kind(result, "ClusterRoleBinding")
    assert all(b.inputs["roleRef"]["name"] != "cluster-admin" for b in bindings)
    ours = {b.inputs["metadata"]["name"]: b.inputs for b in bindings
            if b.inputs["metadata"].get("namespace") == "gitops-ci" or b.inputs["kind"] == "ClusterRoleBinding"}
    assert ours["pipeline-bot-edit"]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                    "name": "edit"}
    assert ours["pipeline-bot-edit"]["subjects"] == [{"kind": "ServiceAccount", "name": "pipeline-bot",
                                                      "namespace": "gitops-ci"}]
    listener = [{"kind": "ServiceAccount", "name": "gitops-ci-listener", "namespace": "gitops-ci"}]
    assert ours["gitops-ci-listener"]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                     "name": "gitops-ci-listener"}
    assert ours["gitops-ci-listener"]["subjects"] == listener
    crb = [b for b in bindings if b.inputs["kind"] == "ClusterRoleBinding"
           and b.inputs["subjects"] == listener]
    assert [b.inputs["roleRef"]["name"] for b in crb] == ["gitops-ci-gitops-ci-listener"]
    # The listener, which takes requests from outside, reads no Secret and impersonates nobody: its
    # Role in the CI namespace and its cluster-wide reads are only what the Triggers sink uses.
    role = result.find("Role", "gitops-ci-listener", "gitops-ci").inputs["rules"]
    cluster_role = next(r.inputs["rules"] for r in of_kind(result, "ClusterRole")
                        if r.inputs["metadata"]["name"] == "gitops-ci-gitops-ci-listener")
    assert cluster_role == [{"apiGroups": ["triggers.tekton.dev"],
                             "resources": ["clustertriggerbindings", "clusterinterceptors"],
                             "verbs": ["get", "list", "watch"]}]
    granted = {(g, res, verb) for rule in role + cluster_role for g in rule["apiGroups"]
               for res in rule["resources"] for verb in rule["verbs"]}
    assert not {(g, res, v) for g, res, v in granted if res in ("secrets", "serviceaccounts") or "*" in (g, res, v)}
    assert ("tekton.dev", "pipelineruns", "create") in granted
    assert {v for g, res, v in granted if res != "events"} <= {"get", "list", "watch", "create"}
    listener_el = result.find("EventListener", "gitops-ci", "gitops-ci").inputs["spec"]
    assert listener_el["serviceAccountName"] == "gitops-ci-listener"
    # the wait task's watcher: a token projected into that task only, read access to Applications only
    watcher = result.find("ServiceAccount", "gitops-ci-watcher", "gitops-ci")
    assert watcher.inputs["automountServiceAccountToken"] is False
    role = result.find("Role", "gitops-ci-gitops-ci-watcher", "argocd")
    assert role.inputs["rules"] == [{"apiGroups": ["argoproj.io"], "resources": ["applications"],
                                     "verbs": ["get", "list", "watch"]}]
    binding = result.find("RoleBinding", "gitops-ci-gitops-ci-watcher", "argocd")
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "gitops-ci-watcher",
                                           "namespace": "gitops-ci"}]


def test_ci_namespace_is_configurable_and_protected_in_prod(run, base_config):
    base_config["tekton"] = {"namespace": "book-ci"}
    prod = run(base_config, stack="prod")
    [ns] = [r for r in of_kind(prod, "Namespace") if r.inputs["metadata"]["name"] == "book-ci"]
    assert ns.protect is True
    assert {r.inputs["metadata"]["namespace"] for r in tekton_objects(prod)} == {"book-ci"}
    assert prod.outputs["tektonWebhookUrl"] == "http://el-gitops-ci.book-ci.svc.cluster.local:8080"
    dev = run(base_config)
    [ns] = [r for r in of_kind(dev, "Namespace") if r.inputs["metadata"]["name"] == "book-ci"]
    assert ns.protect is False


# ---------------------------------------------------------------- triggers
def test_each_app_with_a_source_repo_gets_a_filtered_trigger(run, base_config):
    base_config["apps"].append({"name": "api", "image": "quay.io/org/api",
                                "sourceRepo": "git@github.com:Org/API.git", "path": "api/overlays/dev"})
    base_config["apps"].append({"name": "no-ci", "image": "quay.io/org/no-ci"})
    result = run(base_config)
    spec = result.find("EventListener", "gitops-ci", "gitops-ci").inputs["spec"]
    triggers = {t["name"]: t for t in spec["triggers"]}
    assert list(triggers) == ["person-service", "web", "api"]
    api = triggers["api"]
    github, cel = api["interceptors"]
    assert github["ref"] == {"name": "github", "kind": "ClusterInterceptor"}
    assert github["params"] == [{"name": "secretRef", "value": {"secretName": "github-webhook",
                                                                "secretKey": "secretToken"}},
                                {"name": "eventTypes", "value": ["push"]}]
    filters = {p["name"]: p["value"] for p in cel["params"]}
    assert filters["filter"] == ('body.ref.matches("^refs/heads/[A-Za-z0-9._/+@=-]{1,244}$") && '
                                 'body.after.matches("^[0-9a-f]{40}([0-9a-f]{24})?$") && '
                                 "!(has(body.deleted) && body.deleted) && "
                                 'body.repository.html_url.lowerAscii() == "https://github.com/org/api" && '
                                 'body.commits.exists(c, c.committer.email.lowerAscii() != '
                                 '"pipeline-bot@gitops-platform.local")')
    assert filters["overlays"] == [{"key": "branch", "expression": "body.ref.substring(11)"}]
    # the clone URL is the configured sourceRepo (its https form in token mode), never the payload's
    assert api["bindings"] == [{"ref": "github-push", "kind": "TriggerBinding"},
                               {"name": "source-url", "value": "https://github.com/Org/API.git"},
                               {"name": "app-name", "value": "api"}, {"name": "image", "value": "quay.io/org/api"},
                               {"name": "overlay-path", "value": "api/overlays/dev"},
                               {"name": "context", "value": "."}, {"name": "dockerfile", "value": "Dockerfile"},
                               {"name": "canary", "value": ""}, {"name": "canary-timeout", "value": "0"}]
    assert triggers["web"]["bindings"][4] == {"name": "overlay-path", "value": "web/overlays/dev"}
    assert api["template"] == {"ref": "gitops-ci-run"}
    binding = result.find("TriggerBinding", "github-push", "gitops-ci").inputs["spec"]["params"]
    assert binding == [{"name": "source-revision", "value": "$(body.after)"},
                       {"name": "source-branch", "value": "$(extensions.branch)"}]


def test_trigger_template_runs_gitops_ci_with_one_claim_a_projected_token_and_the_fs_group(run, base_config):
    base_config["tekton"] = {"storage": "5Gi", "storageClass": "gp3"}
    template = run(base_config, secrets={}).find("TriggerTemplate", "gitops-ci-run", "gitops-ci").inputs["spec"]
    [pr] = template["resourcetemplates"]
    assert pr["apiVersion"] == "tekton.dev/v1" and pr["kind"] == "PipelineRun"
    assert pr["metadata"]["generateName"] == "$(tt.params.app-name)-ci-"
    assert pr["spec"]["pipelineRef"] == {"name": "gitops-ci"}
    claim = {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}},
                      "storageClassName": "gp3"}}
    assert pr["spec"]["workspaces"] == [
        {"name": "work", "volumeClaimTemplate": claim},
        {"name": "kube-api", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}]
    pod = {"securityContext": {"fsGroup": 65532, "fsGroupChangePolicy": "OnRootMismatch"}}
    assert pr["spec"]["taskRunTemplate"] == {"serviceAccountName": "pipeline-bot", "podTemplate": pod}
    assert pr["spec"]["taskRunSpecs"] == [{"pipelineTaskName": "wait-for-deploy",
                                           "serviceAccountName": "gitops-ci-watcher", "podTemplate": pod}]


def test_webhook_secret_is_generated_as_a_pulumi_secret(run, base_config):
    result = run(base_config)
    generated = [r for r in result.of_type("random:index/randomPassword:RandomPassword")
                 if r.parent.endswith(TEKTON_TYPE + "::gitops-tekton")]
    assert len(generated) == 1 and generated[0].inputs["special"] is False
    assert "tektonWebhookSecret" in result.secret_outputs and result.outputs["tektonWebhookSecret"] == "[secret]"
    assert result.raw_outputs["tektonWebhookSecret"] == FAKE_GENERATED
    secret = result.find("Secret", "github-webhook", "gitops-ci")
    assert secret.secret_paths == ["stringData"]
    matches = secret.raw_inputs["stringData"] == {"secretToken": FAKE_GENERATED}
    assert matches, "secret data differs from what was set (values are not shown)"


def test_configured_webhook_secret_is_used_instead(run, base_config):
    result = run(base_config, secrets={"tektonWebhookSecret": "known-hook-secret-31337"})
    assert not [r for r in result.of_type("random:index/randomPassword:RandomPassword")
                if r.parent.endswith("::gitops-tekton")]
    assert result.raw_outputs["tektonWebhookSecret"] == "known-hook-secret-31337"
    assert "tektonWebhookSecret" in result.secret_outputs
    secret = result.find("Secret", "github-webhook", "gitops-ci")
    matches = secret.raw_inputs["stringData"] == {"secretToken": "known-hook-secret-31337"}
    assert matches, "secret data differs from what was set (values are not shown)"


def test_webhook_url_and_what_to_register_are_outputs(run, base_config):
    result = run(base_config)
    # kind: only a Git server in the cluster can deliver, to the in-cluster URL
    assert result.outputs["tektonWebhookUrl"] == "http://el-gitops-ci.gitops-ci.svc.cluster.local:8080"
    assert "webhooks.relay.url" in result.outputs["webhooks"]["tekton"]
    base_config["cluster"] = {"provider": "existing"}
    result = run(base_config)
    assert "tektonWebhookUrl" not in result.outputs
    assert "set gateway.domain" in result.outputs["webhooks"]["tekton"]


# ---------------------------------------------------------------- installs and the graph
def test_installs_are_pinned_release_manifests_in_crd_order(run, base_config):
    result = run(base_config)
    urls = {w: install(result, w).inputs["file"] for w in ("pipelines", "triggers", "interceptors", "dashboard")}
    base = "https://infra.tekton.dev/tekton-releases"
    assert urls == {"pipelines": f"{base}/pipeline/previous/v1.15.0/release.yaml",
                    "triggers": f"{base}/triggers/previous/v0.37.0/release.yaml",
                    "interceptors": f"{base}/triggers/previous/v0.37.0/interceptors.yaml",
                    "dashboard": f"{base}/dashboard/previous/v0.71.0/release.yaml"}
    assert install(result, "pipelines").urn in install(result, "triggers").dependencies
    assert install(result, "triggers").urn in install(result, "interceptors").dependencies
    assert install(result, "pipelines").urn in install(result, "dashboard").dependencies
    provider = install(result, "pipelines").provider
    assert provider.startswith("urn:pulumi:dev::gitops-platform::") and "pulumi:providers:kubernetes" in provider


def test_release_urls_follow_version_and_mirror_overrides(run, base_config):
    base_config["versions"] = {"tektonPipelinesVersion": "v1.14.2", "tektonReleaseBase": "https://mirror.example/tk"}
    result = run(base_config)
    assert install(result, "pipelines").inputs["file"] == "https://mirror.example/tk/pipeline/previous/v1.14.2/release.yaml"
    assert install(result, "dashboard").inputs["file"].startswith("https://mirror.example/tk/dashboard/")


def test_every_tekton_object_depends_on_its_install_and_the_ci_namespace(run, base_config):
    result = run(base_config, secrets=ALL_SECRETS)
    pipelines_urn, triggers_urn, interceptors_urn = (install(result, w).urn for w in ("pipelines", "triggers",
                                                                                         "interceptors"))
    [namespace] = [r for r in of_kind(result, "Namespace") if r.inputs["metadata"]["name"] == "gitops-ci"]
    objects = tekton_objects(result)
    assert len(objects) == 10 + 2 + 3
    for obj in objects:
        assert pipelines_urn in obj.dependencies, obj.name
        assert namespace.urn in obj.dependencies, obj.name
        if obj.inputs["apiVersion"].startswith("triggers."):
            assert triggers_urn in obj.dependencies, obj.name
    assert interceptors_urn in result.find("EventListener", "gitops-ci").dependencies
    in_ci = [r for r in result.k8s_objects() if (r.inputs["metadata"] or {}).get("namespace") == "gitops-ci"]
    assert all(namespace.urn in r.dependencies for r in in_ci)
    assert all(r.provider == install(result, "pipelines").provider for r in in_ci)


def test_dashboard_is_reachable_on_kind_through_the_node_port(run, base_config):
    base_config["cluster"]["kind"] = {"dashboardHostPort": 9100}
    result = run(base_config)
    service = result.find("Service", "tekton-dashboard-nodeport", "tekton-pipelines")
    spec = service.inputs["spec"]
    assert spec["type"] == "NodePort"
    assert spec["ports"] == [{"name": "http", "protocol": "TCP", "port": 9097, "targetPort": 9097, "nodePort": 30900}]
    assert spec["selector"] == {"app.kubernetes.io/name": "dashboard", "app.kubernetes.io/component": "dashboard",
                                "app.kubernetes.io/instance": "default", "app.kubernetes.io/part-of": "tekton-dashboard"}
    assert install(result, "dashboard").urn in service.dependencies
    assert result.outputs["tektonDashboardUrl"] == "http://localhost:9100"


def test_dashboard_off_kind_is_reached_by_port_forward(run, base_config):
    base_config["cluster"] = {"provider": "existing", "name": "ours"}
    result = run(base_config, stack="staging")
    with pytest.raises(KeyError):
        result.find("Service", "tekton-dashboard-nodeport")
    assert result.outputs["tektonDashboardUrl"].startswith(
        "kubectl -n tekton-pipelines port-forward svc/tekton-dashboard 9097:9097")


def test_tekton_can_be_turned_off(run, base_config):
    base_config["features"] = {"tekton": False}
    result = run(base_config)
    assert not tekton_objects(result) and not result.of_type(CONFIGFILE)
    assert not [k for k in result.outputs if k.startswith("tekton")]


def test_tekton_adds_no_resources_per_app(run, base_config):
    def count(apps):
        config = copy.deepcopy(base_config)
        config["apps"] = [{"name": f"app-{i}", "image": f"quay.io/org/app-{i}",
                           "sourceRepo": f"https://github.com/org/app-{i}.git"} for i in range(apps)]
        result = run(config, secrets=ALL_SECRETS)
        tekton_urn = [r.urn for r in result.resources if r.type == TEKTON_TYPE][0]
        ours = [r for r in result.resources if r.parent == tekton_urn]
        listener = result.find("EventListener", "gitops-ci", "gitops-ci").inputs["spec"]
        return len(ours), len(listener["triggers"])
    assert count(1) == (count(40)[0], 1)
    assert count(40)[1] == 40


# ---------------------------------------------------------------- strict validation
def test_tekton_objects_of_every_stack_pass_validate_manifests(stack_result, validate_docs):
    _, result = stack_result
    docs = manifests_of(tekton_objects(result))
    assert {d["kind"] for d in docs} == {"Task", "Pipeline", "TriggerBinding", "TriggerTemplate", "EventListener"}
    validate_docs(docs)
    assert references.problems(docs) == []


def test_every_tekton_object_with_all_options_passes_validate_manifests(run, base_config, validate_docs):
    base_config["configRepo"]["url"] = "git@github.com:org/gitops-config.git"
    base_config["tekton"] = {"gitAuth": "ssh", "sshKnownHosts": KNOWN_HOSTS}
    result = run(base_config, secrets={**ALL_SECRETS, "gitSshPrivateKey": SSH_KEY})
    docs = [r.manifest() for r in result.k8s_objects()
            if (r.inputs["metadata"] or {}).get("namespace") in ("gitops-ci", "tekton-pipelines")
            or r.inputs["kind"] == "ClusterRoleBinding"]
    # The PipelineRun inside the TriggerTemplate is only checked by Tekton when a push arrives: check it now.
    template = result.find("TriggerTemplate", "gitops-ci-run", "gitops-ci").manifest()
    runs = [{**run_, "metadata": {"name": "gitops-ci-run-x", **{k: v for k, v in run_["metadata"].items()
                                                                if k != "generateName"}}}
            for run_ in template["spec"]["resourcetemplates"]]
    validate_docs(docs + runs)


def test_token_mode_clones_and_pushes_an_ssh_style_config_repo_over_https(run, base_config):
    base_config["configRepo"]["url"] = "git@github.com:org/gitops-config.git"
    result = run(base_config, secrets={**ALL_SECRETS, "gitSshPrivateKey": SSH_KEY})   # Argo CD reads it over ssh
    for name in ("gitops-ci", "stage-release"):
        defaults = {p["name"]: p.get("default") for p in pipeline(result, name)["params"]}
        assert defaults["config-url"] == "https://github.com/org/gitops-config.git"
    ssh = copy.deepcopy(base_config)
    ssh["tekton"] = {"gitAuth": "ssh", "sshKnownHosts": KNOWN_HOSTS}
    defaults = {p["name"]: p.get("default") for p in pipeline(run(ssh, secrets={**ALL_SECRETS, "gitSshPrivateKey": SSH_KEY}),
                                                              "gitops-ci")["params"]}
    assert defaults["config-url"] == "git@github.com:org/gitops-config.git"


@pytest.mark.parametrize("key", ["gitCloneTaskRevision", "kanikoTaskRevision"])
@pytest.mark.parametrize("revision", ["main", "v1.0.0", "55dd80ef1b83"])
def test_remote_task_revisions_must_be_full_commit_shas(base_config, key, revision):
    base_config["versions"] = {key: revision}
    with pytest.raises(ConfigError) as err:
        load_config(base_config, "dev")
    assert err.value.lines[0].startswith(f"gitops-platform:versions.{key}: ")
    assert "40-character commit SHA" in err.value.lines[0]


def test_the_documented_stage_release_run_carries_the_fs_group_and_fits_the_pipeline(run, base_config, validate_docs):
    text = (ROOT / "docs" / "tekton.md").read_text()
    block = text.split("# stage-release.yaml: kubectl create -f stage-release.yaml\n", 1)[1].split("```", 1)[0]
    example = yaml.safe_load(block)
    spec = example["spec"]
    assert spec["taskRunTemplate"]["podTemplate"]["securityContext"]["fsGroup"] == 65532
    pipeline_spec = pipeline(run(base_config, secrets=ALL_SECRETS), "stage-release")
    declared = {p["name"]: p.get("default") for p in pipeline_spec["params"]}
    given = {p["name"] for p in spec["params"]}
    assert given <= set(declared) and {p for p, d in declared.items() if d is None} <= given
    assert {w["name"] for w in spec["workspaces"]} == {w["name"] for w in pipeline_spec["workspaces"]}
    # the read-only tasks run as the watcher, exactly as the trigger's runs do (and only tasks that exist:
    # Tekton refuses a run whose taskRunSpecs name another)
    assert references.run_spec_problems("example", spec, pipeline_spec) == []
    assert [(s["pipelineTaskName"], s["serviceAccountName"]) for s in spec["taskRunSpecs"]] == \
        [("release-gate", "gitops-ci-watcher")]
    assert spec["taskRunSpecs"][0]["podTemplate"] == spec["taskRunTemplate"]["podTemplate"]
    validate_docs([{**example, "metadata": {"name": "person-service-release-x", "namespace": "gitops-ci"}}])


def test_a_canary_apps_trigger_waits_for_its_canary_as_long_as_its_analysis_can_take(run, base_config):
    base_config["apps"][0]["canary"] = {"enabled": True}
    base_config["apps"][1]["canary"] = {"enabled": True, "waitTimeout": "45m"}
    spec = run(base_config).find("EventListener", "gitops-ci", "gitops-ci").inputs["spec"]
    bindings = {t["name"]: {b["name"]: b["value"] for b in t["bindings"] if "name" in b} for t in spec["triggers"]}
    assert bindings["person-service"]["canary"] == "book-dev/person-service"
    # 30s x (5 steps + threshold 5 + 2) + the 600 s progress deadline
    assert bindings["person-service"]["canary-timeout"] == "960"
    assert bindings["web"]["canary-timeout"] == "2700"
    wait = pipeline_task(pipeline(run(base_config), "gitops-ci"), "wait-for-deploy")
    params = {p["name"]: p["value"] for p in wait["params"]}
    assert params["canary"] == "$(params.canary)" and params["canary-timeout"] == "$(params.canary-timeout)"
    assert params["digest"] == "$(tasks.build-and-push.results.IMAGE_DIGEST)"


def test_the_release_gate_runs_before_anything_is_tagged_as_the_watcher(run, base_config):
    spec = pipeline(run(base_config, stack="staging"), "stage-release")
    gate = pipeline_task(spec, "release-gate")
    assert gate["runAfter"] == ["release-source"]
    assert pipeline_task(spec, "tag-image")["runAfter"] == ["release-gate"]
    assert {p["name"]: p["value"] for p in gate["params"]}["reference"] == "$(tasks.release-source.results.reference)"
    assert gate["workspaces"] == [{"name": "kube-api", "workspace": "kube-api"}]
