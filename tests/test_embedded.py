"""The laptop default: the embedded Git server, registry and example app on kind, their seeding (run for
real against a Gitea stand-in), and the relay-free webhook path from the Git server to the pipeline."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from components import embedded
from components.cluster.kind import registry_hosts_command
from components.config.embedded import GIT_OWNER, REGISTRY_CLUSTER_IP, REGISTRY_HOST
from tests.harness.gitea import GiteaApi
from tests.harness.gitserver import GitServer
from tools.render import manifests

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "components" / "seed"
KIND_DEV = {"cluster": {"provider": "kind", "name": "gitops-dev"}}


def of_kind(docs, kind, name=None):
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


# ---------------------------------------------------------------- what the default renders
def test_a_kind_stack_without_config_repo_gets_a_git_server_registry_and_the_example_app(run):
    result = run(dict(KIND_DEV), secrets={})
    assert result.errors == []
    docs = manifests(result)
    [gitea] = of_kind(docs, "Deployment", "gitea")
    assert gitea["spec"]["template"]["spec"]["containers"][0]["image"].startswith("docker.io/gitea/gitea:1.27.3-rootless@sha256:")
    env = {e["name"]: e.get("value") for e in gitea["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GITEA__server__ROOT_URL"] == "http://gitea-http.gitea.svc.cluster.local:3000/"
    assert env["GITEA__webhook__ALLOWED_HOST_LIST"] == "private"   # cluster addresses are private ones
    [service] = of_kind(docs, "Service", "gitea-http")
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == 30300
    [registry] = of_kind(docs, "Service", "registry")
    assert registry["spec"]["clusterIP"] == REGISTRY_CLUSTER_IP
    # the example app, from the Git server, built into the registry, with a canary
    [app] = of_kind(docs, "Application", "hello")
    assert app["spec"]["source"]["repoURL"] == "http://gitea-http.gitea.svc.cluster.local:3000/gitops/config.git"
    assert app["spec"]["source"]["path"] == "hello/overlays/dev"
    assert of_kind(docs, "Canary", "hello")
    # the first sync waits for the seeding (the repos and the bootstrap image exist by then)
    [job] = of_kind(docs, "Job")
    application = result.find("Application", "hello", "argocd")
    assert result.find("Job", job["metadata"]["name"], "gitea").urn in application.dependencies
    # kind maps the Git server to localhost:3000 and tells containerd where the registry is
    command = result.of_type("command:local:Command")[0].inputs
    mappings = {m["hostPort"]: m["containerPort"] for m in yaml.safe_load(command["stdin"])["nodes"][0]["extraPortMappings"]}
    assert mappings[3000] == 30300
    assert registry_hosts_command() in command["create"]
    assert command["environment"]["REGISTRY_HOST"] == REGISTRY_HOST
    assert command["environment"]["REGISTRY_IP"] == REGISTRY_CLUSTER_IP
    out = result.outputs
    assert out["gitServerUrl"] == "http://localhost:3000" and out["gitServerUser"] == GIT_OWNER
    assert "gitServerPassword" in result.secret_outputs
    assert out["cloneUrls"] == {"config": "http://localhost:3000/gitops/config.git",
                                "hello": "http://localhost:3000/gitops/hello.git"}
    assert out["canaryUrls"] == {"hello": "http://hello.localhost:8000/"}
    assert out["argocdUrl"] == "http://localhost:8080" and out["tektonDashboardUrl"] == "http://localhost:9000"
    assert out["registry"] == REGISTRY_HOST


def test_the_pipelines_and_argocd_use_the_git_servers_generated_credentials(run):
    result = run(dict(KIND_DEV), secrets={})
    bot = result.find("Secret", "pipeline-bot-git", "gitops-ci")
    assert bot.inputs["metadata"]["annotations"] == {"tekton.dev/git-0": "http://gitea-http.gitea.svc.cluster.local:3000"}
    assert bot.secret_paths and bot.raw_inputs["stringData"]["username"] == GIT_OWNER
    admin = result.find("Secret", "gitea", "gitea").raw_inputs["stringData"]["admin-password"]
    assert bot.raw_inputs["stringData"]["password"] == admin, "the bot pushes as the Git server's admin"
    argocd_repo = [r for r in result.k8s_objects() if r.inputs["kind"] == "Secret"
                   and r.inputs["metadata"]["namespace"] == "argocd" and "repo" in r.inputs["metadata"]["name"]]
    assert argocd_repo and argocd_repo[0].raw_inputs["stringData"]["password"] == admin
    pr = next(t for t in result.find("Pipeline", "stage-release", "gitops-ci").inputs["spec"]["tasks"]
              if t["name"] == "open-pull-request")
    params = {p["name"]: p["value"] for p in pr["params"]}
    assert (params["flavor"], params["auth"]) == ("gitea", "basic")
    defaults = {p["name"]: p.get("default") for p in result.find("Pipeline", "stage-release", "gitops-ci").inputs["spec"]["params"]}
    assert defaults["api-url"] == "http://gitea-http.gitea.svc.cluster.local:3000/api/v1"
    assert defaults["config-repository"] == "gitops/config"
    # Gitea's deliveries are parsed as Gogs by Argo CD: the same secret is set for both
    release = next(r for r in result.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "argo-cd")
    secret = release.raw_inputs["values"]["configs"]["secret"]
    assert secret["gogsSecret"] == secret["githubSecret"]
    assert not [w for w in result.warnings if "registryPassword" in w or "gitToken" in w]


def test_a_config_repo_of_ones_own_keeps_everything_as_before(run, base_config):
    result = run(base_config)
    docs = manifests(result)
    assert not of_kind(docs, "Deployment", "gitea") and not of_kind(docs, "Service", "registry") and not of_kind(docs, "Job")
    assert "gitServerUrl" not in result.outputs
    command = result.of_type("command:local:Command")[0].inputs
    assert "containerd" not in command["create"]


def test_the_seeding_is_the_same_job_on_every_run_and_a_new_one_when_the_examples_change(run, tmp_path, monkeypatch):
    first = of_kind(manifests(run(dict(KIND_DEV), secrets={})), "Job")[0]
    again = of_kind(manifests(run(dict(KIND_DEV), secrets={})), "Job")[0]
    assert first == again, "a second pulumi up must change nothing"
    assert embedded.seed_tarball(ROOT / "examples" / "hello") == embedded.seed_tarball(ROOT / "examples" / "hello")
    changed = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", changed)
    (changed / "hello" / "app.py").write_text((changed / "hello" / "app.py").read_text().replace('VERSION = "1"', 'VERSION = "2"'))
    monkeypatch.setattr(embedded, "EXAMPLES", changed)
    moved = of_kind(manifests(run(dict(KIND_DEV), secrets={})), "Job")[0]
    assert moved["metadata"]["name"] != first["metadata"]["name"]


def test_a_failed_seeding_is_reported_in_minutes_by_the_providers_own_job_await(run):
    """pulumi-kubernetes awaits a Job until Complete and fails it as soon as its Failed condition is
    BackoffLimitExceeded or DeadlineExceeded; a `pulumi.com/waitFor` annotation would replace that
    with a wait for Complete alone, so a failed seeding would only time out."""
    [job] = of_kind(manifests(run(dict(KIND_DEV), secrets={})), "Job")
    annotations = job["metadata"].get("annotations", {})
    assert "pulumi.com/waitFor" not in annotations
    spec = job["spec"]
    assert spec["backoffLimit"] <= 2   # retries 10 s then 20 s apart: failure known within a minute of the last
    # The Job's own deadline fires before the provider's timeout, so the error names DeadlineExceeded.
    assert spec["activeDeadlineSeconds"] < int(annotations["pulumi.com/timeoutSeconds"]) <= 1200
    pod = spec["template"]["spec"]
    # Each container's last log lines become its termination message, which the provider's error quotes.
    assert {c["name"]: c["terminationMessagePolicy"] for c in pod["initContainers"] + pod["containers"]} == {
        "repos-and-hooks": "FallbackToLogsOnError", "push": "FallbackToLogsOnError",
        "bootstrap-image": "FallbackToLogsOnError"}


def test_every_embedded_object_validates_strictly(run, validate_docs):
    docs = [d for d in manifests(run(dict(KIND_DEV), secrets={}))
            if d["metadata"].get("namespace") in ("gitea", "registry", "kube-public") or d["kind"] in ("Application", "Canary")]
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "Job", "ConfigMap", "PersistentVolumeClaim"}
    validate_docs(docs)


def test_the_example_config_repo_follows_the_canary_layout(tmp_path):
    base = ROOT / "examples" / "config" / "hello"
    names = {p.name for p in (base / "base").iterdir()}
    assert names == {"kustomization.yaml", "deployment.yaml"}, "no Service or HTTPRoute: Flagger makes them"
    deployment = yaml.safe_load((base / "base" / "deployment.yaml").read_text())
    assert deployment["metadata"]["name"] == "hello"
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "hello"}
    pod = deployment["spec"]["template"]["metadata"]["annotations"]
    assert pod["prometheus.io/scrape"] == "true" and pod["prometheus.io/port"] == "8080"
    for env in ("dev", "staging", "prod"):
        overlay = yaml.safe_load((base / "overlays" / env / "kustomization.yaml").read_text())
        assert overlay["images"] == [{"name": f"{REGISTRY_HOST}/gitops/hello", "newTag": "bootstrap"}]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_example_overlay_builds_with_argo_cds_kustomize_and_validates(kustomize, env, validate_docs):
    """`kustomize build` with the kustomize Argo CD v3.4.4 runs (the toolchain's), every environment."""
    overlay = ROOT / "examples" / "config" / "hello" / "overlays" / env
    done = subprocess.run([kustomize, "build", str(overlay)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REGISTRY_HOST}/gitops/hello:bootstrap"
    validate_docs(docs)


def test_the_example_apps_own_tests_pass_and_its_metrics_are_what_the_canary_reads():
    done = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", "tests"], cwd=ROOT / "examples" / "hello",
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(ROOT / "examples" / "hello"))
    try:
        import app
    finally:
        sys.path.pop(0)
    histogram = app.Histogram()
    histogram.observe("GET", 200, 0.01)
    text = histogram.render()
    assert 'http_request_duration_seconds_count{method="GET",status="200"} 1' in text
    assert 'http_request_duration_seconds_bucket{method="GET",status="200",le="+Inf"} 1' in text


# ---------------------------------------------------------------- the seeding, run for real
needs_git = pytest.mark.skipif(shutil.which("git") is None or shutil.which("busybox") is None,
                               reason="git and busybox (the git image's sh) are needed (apt-get install git busybox)")


def seed(server: GitServer, workdir: Path, hooks: list[dict]) -> subprocess.CompletedProcess:
    seed_dir = workdir / "seed"
    seed_dir.mkdir(exist_ok=True)
    for name, data in embedded.seed_content().items():
        (seed_dir / name).write_bytes(data)
    env = {"PATH": os.environ["PATH"], "GIT_BASE": f"http://127.0.0.1:{server.port}", "GIT_USER": GIT_OWNER,
           "GIT_PASSWORD": "admin-password", "REPOS": "config hello", "HOOKS": json.dumps(hooks), "WAIT_FOR": "[]",
           "TEKTON_SECRET": "tekton-secret", "ARGOCD_SECRET": "argocd-secret", "SEED_DIR": str(seed_dir),
           "POLL_SECONDS": "0.1", "WAIT_SECONDS": "5", "GIT_CONFIG_NOSYSTEM": "1"}
    api = subprocess.run([sys.executable, str(SEED / "seed_api.py")], env=env, capture_output=True, text=True)
    if api.returncode != 0:
        return api
    push = subprocess.run(["busybox", "sh", str(SEED / "seed_git.sh")], env=env, capture_output=True, text=True)
    return subprocess.CompletedProcess(push.args, push.returncode, api.stdout + push.stdout, api.stderr + push.stderr)


HOOKS = [{"repo": "config", "url": "http://argocd-server.argocd.svc.cluster.local/api/webhook", "secretEnv": "ARGOCD_SECRET"},
         {"repo": "hello", "url": "http://el-gitops-ci.gitops-ci.svc.cluster.local:8080", "secretEnv": "TEKTON_SECRET"}]


@needs_git
def test_seeding_creates_the_repos_and_hooks_pushes_the_examples_and_a_rerun_changes_nothing(tmp_path):
    with GitServer(tmp_path / "git", {GIT_OWNER: "admin-password"}) as server:
        server.api = gitea = GiteaApi(server, GIT_OWNER)
        first = seed(server, tmp_path, HOOKS)
        assert first.returncode == 0, first.stderr
        assert "seeded gitops/config" in first.stdout and "seeded gitops/hello" in first.stdout
        assert server.pushes == ["gitops/config.git", "gitops/hello.git"], "the config repo first: the app's push starts CI"
        assert "newTag: bootstrap" in server.show("gitops/config.git", "main", "hello/overlays/dev/kustomization.yaml")
        assert server.log("gitops/hello.git", fmt="%ae").strip() == "seed@gitops-platform.local"
        assert "FAILURE_RATE = 0.0" in server.show("gitops/hello.git", "main", "app.py")
        hook = gitea.hooks["hello"][0]
        assert hook["config"] == {"url": "http://el-gitops-ci.gitops-ci.svc.cluster.local:8080", "content_type": "json",
                                  "secret": "tekton-secret"}
        assert hook["events"] == ["push"] and hook["active"] is True and hook["type"] == "gitea"
        assert gitea.hooks["config"][0]["config"]["secret"] == "argocd-secret"
        # a user's own commit, then the seeding again (a new Job after an upgrade)
        user_commit = server.commit("gitops/hello.git", {"app.py": "print('mine')\n"}, "my change")
        creates = [c for c in gitea.calls if c[0] == "POST"]
        again = seed(server, tmp_path, HOOKS)
        assert again.returncode == 0, again.stderr
        assert "already has commits: left alone" in again.stdout
        assert server.head("gitops/hello.git") == user_commit, "a user's commit is never overwritten"
        assert [c for c in gitea.calls if c[0] == "POST"] == creates, "nothing is created twice"
        assert len(gitea.hooks["hello"]) == 1 and len(server.pushes) == 2


@needs_git
def test_seeding_fails_loudly_when_the_git_server_refuses_it(tmp_path):
    with GitServer(tmp_path / "git", {GIT_OWNER: "another-password"}) as server:
        server.api = GiteaApi(server, GIT_OWNER)
        done = seed(server, tmp_path, HOOKS)
        assert done.returncode != 0
        assert "could not" in done.stderr and "401" in done.stderr


@needs_git
def test_a_seeded_repo_push_reaches_the_pipeline_as_gitea_delivers_it(tmp_path, run):
    """The relay-free path: Gitea's push webhook (its headers, its payload) through the EventListener."""
    pytest.importorskip("celpy", reason="cel-python evaluates the EventListener's CEL filters (requirements-dev.txt)")
    from tests.harness.triggers import pipeline_runs
    result = run(dict(KIND_DEV), secrets={"tektonWebhookSecret": "tekton-secret"})
    objects = [r.manifest() for r in result.k8s_objects()
               if r.inputs["apiVersion"].startswith(("tekton.dev/", "triggers.tekton.dev/"))]
    base = "http://gitea-http.gitea.svc.cluster.local:3000"
    payload = {  # go-gitea/gitea modules/structs/hook.go PushPayload: no `deleted`, Gitea's own URLs
        "ref": "refs/heads/main", "before": "0" * 40, "after": "a" * 40, "compare_url": "",
        "commits": [{"id": "a" * 40, "message": "change", "added": [], "removed": [], "modified": ["app.py"],
                     "author": {"email": "dev@example.com"}, "committer": {"email": "dev@example.com"}}],
        "repository": {"full_name": "gitops/hello", "html_url": f"{base}/gitops/hello",
                       "clone_url": f"{base}/gitops/hello.git", "default_branch": "main"},
        "pusher": {"login": "gitops"}, "sender": {"login": "gitops"}}
    raw = json.dumps(payload).encode()
    signature = hmac.new(b"tekton-secret", raw, hashlib.sha256).hexdigest()
    headers = {"x-gitea-event": "push", "x-gogs-event": "push", "x-github-event": "push",
               "x-gitea-signature": signature, "x-gogs-signature": signature,
               "x-hub-signature-256": f"sha256={signature}", "content-type": "application/json"}
    [pipeline_run] = pipeline_runs(objects, headers, raw, {("github-webhook", "secretToken"): "tekton-secret"})
    params = {p["name"]: p["value"] for p in pipeline_run["spec"]["params"]}
    assert params["app-name"] == "hello" and params["source-url"] == f"{base}/gitops/hello.git"
    assert params["canary"] == "hello-dev/hello"
    # the seeding commit starts the first build (it is not the pipeline bot's); the bot's own never does
    seeded = json.loads(raw)
    seeded["commits"][0]["committer"]["email"] = "seed@gitops-platform.local"
    body = json.dumps(seeded).encode()
    signed = {**headers, "x-hub-signature-256": "sha256=" + hmac.new(b"tekton-secret", body, hashlib.sha256).hexdigest()}
    assert len(pipeline_runs(objects, signed, body, {("github-webhook", "secretToken"): "tekton-secret"})) == 1
    seeded["commits"][0]["committer"]["email"] = "pipeline-bot@gitops-platform.local"
    body = json.dumps(seeded).encode()
    signed = {**headers, "x-hub-signature-256": "sha256=" + hmac.new(b"tekton-secret", body, hashlib.sha256).hexdigest()}
    assert pipeline_runs(objects, signed, body, {("github-webhook", "secretToken"): "tekton-secret"}) == []
    wrong = {**headers, "x-hub-signature-256": "sha256=" + "0" * 64}
    assert pipeline_runs(objects, wrong, raw, {("github-webhook", "secretToken"): "tekton-secret"}) == []


def test_the_nodes_are_told_where_the_registry_is(tmp_path):
    """The kind create step's registry part, run with stand-ins for kind and docker: every node gets a
    hosts.toml that containerd reads (valid TOML, the cluster name mapped to the fixed ClusterIP)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kind").write_text("#!/bin/sh\necho gitops-dev-control-plane; echo gitops-dev-worker\n")
    (bin_dir / "docker").write_text(f"""#!/bin/sh
node="$2"; shift 2
case "$1" in
  mkdir) mkdir -p "{tmp_path}/$node$3" ;;
  cp) cat > "{tmp_path}/$node$3" ;;
esac
""")
    (bin_dir / "docker").write_text((bin_dir / "docker").read_text().replace('node="$2"; shift 2',
                                                                          'shift; [ "$1" = -i ] && shift; node="$1"; shift'))
    for tool in ("kind", "docker"):
        (bin_dir / tool).chmod(0o755)
    script = registry_hosts_command()
    done = subprocess.run(["sh", "-c", script], env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "KIND_CLUSTER": "gitops-dev",
                                                     "REGISTRY_HOST": REGISTRY_HOST, "REGISTRY_IP": REGISTRY_CLUSTER_IP},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for node in ("gitops-dev-control-plane", "gitops-dev-worker"):
        hosts = tmp_path / node / "etc" / "containerd" / "certs.d" / REGISTRY_HOST / "hosts.toml"
        config = tomllib.loads(hosts.read_text())
        assert config["server"] == f"http://{REGISTRY_CLUSTER_IP}:5000"
        assert config["host"][f"http://{REGISTRY_CLUSTER_IP}:5000"]["capabilities"] == ["pull", "resolve"]
