"""One test world for the step-script harness: a git server holding an app's source repo and the config
repo, a registry, Argo CD's webhook and the Kubernetes API as stand-ins, and the platform's Tekton
objects rendered by the real program. `push()` commits to the app repo and delivers GitHub's push event
to the EventListener emulation; `run()` executes a PipelineRun as a cluster would.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import toolchain_binary
from tests.harness import stand_ins
from tests.harness.apis import ArgoWebhook, PullsApi, Registry, StandIn, json_answer, self_signed_certificate
from tests.harness.gitserver import GitServer
from tests.harness.tekton import Harness, RunOutcome, block_storage_volume, kubelet_fs_group
from tests.harness.triggers import pipeline_runs
from tools import validate
from tools.mockrun import run_program

TOKEN = "ghp_harness_token_0123456789"
WEBHOOK_SECRET = "tekton-webhook-secret-for-the-harness"
ARGOCD_SECRET = "argocd-webhook-secret-for-the-harness"
KUBE_TOKEN = "watcher-projected-token"
BOT_EMAIL = "pipeline-bot@gitops-platform.local"
OVERLAY = "person-service/overlays/dev"

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: IMAGE
    newTag: bootstrap
"""
BASE = {
    "person-service/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
    "person-service/base/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: person-service
spec:
  selector:
    matchLabels: {app: person-service}
  template:
    metadata:
      labels: {app: person-service}
    spec:
      containers:
        - name: app
          image: IMAGE
""",
}
APP_FILES = {"Dockerfile": "FROM scratch\nCOPY app /app\n", "app": "v1\n",
             "ci/test.sh": "#!/bin/sh\necho tests pass\n"}


def base_config(**apps_extra: Any) -> dict:
    return {
        "cluster": {"provider": "kind", "name": "gitops-test"},
        "configRepo": {"url": "https://github.com/org/gitops-config.git", "revision": "main", "username": "ci-bot"},
        "registry": {"server": "REGISTRY", "username": "ci-bot", "insecure": True},
        "apps": [{"name": "person-service", "image": "REGISTRY/org/person-service", "path": OVERLAY,
                  "sourceRepo": "https://github.com/org/person-service.git", **apps_extra}],
    }


class World:
    def __init__(self, config: dict | None = None, stack: str = "dev", pulls: PullsApi | None = None,
                 config_files: dict[str, str] | None = None, app_files: dict[str, str] | None = None,
                 readers: set[str] | None = None):
        self.stack = ExitStack()
        self.kustomize = toolchain_binary("kustomize")   # skips only where there is no Go
        self.builds = 0
        self.root = Path(tempfile.mkdtemp(prefix="pipeline-harness-"))
        self.root.chmod(0o755)   # non-root steps must reach their scripts, results and workspaces
        # The registry first: the app images live on it (REGISTRY in a config stands for its host:port).
        self.registry = Registry()
        self.registry_server = self.stack.enter_context(StandIn(self.registry))
        self.registry_host = self.registry_server.url.removeprefix("http://")
        self.config = json.loads(json.dumps(config or base_config()).replace("REGISTRY", self.registry_host))
        self.image = f"{self.registry_host}/org/person-service"
        secrets = {"gitToken": TOKEN, "registryPassword": "registry-password", "tektonWebhookSecret": WEBHOOK_SECRET,
                   "argocdWebhookSecret": ARGOCD_SECRET}
        result = run_program(stack, self.config, secrets)
        assert result.errors == [], result.errors
        self.objects = [r.manifest() for r in result.k8s_objects()
                        if r.inputs["apiVersion"].startswith(("tekton.dev/", "triggers.tekton.dev/"))]
        self.server = self.stack.enter_context(GitServer(self.root / "git", {"ci-bot": TOKEN}, readers=readers))
        self.app_repo = self.server.create_repo("org/person-service.git", app_files or APP_FILES)
        files = dict(BASE)
        files[f"{OVERLAY}/kustomization.yaml"] = KUSTOMIZATION
        files.update(config_files or {})
        files = {name: self.fill(c) if c else c for name, c in files.items()}
        files = {name: content for name, content in files.items() if content is not None}
        self.config_repo = self.server.create_repo("org/gitops-config.git", files)
        self.argocd = self.stack.enter_context(StandIn(ArgoWebhook(ARGOCD_SECRET)))
        self.pulls = pulls or PullsApi(token=TOKEN)
        self.api = self.stack.enter_context(StandIn(self.pulls))
        cert, key = self_signed_certificate(self.root)
        self.cert = cert
        self.kube_states: list[dict] | None = None
        self.sync_failure: str | None = None   # Argo CD fails the sync of the pushed revision with this message
        # Flagger: each read of the Canary answers the next of these (the last repeats), see canary_answer()
        self.canary_script: list[dict] | None = None
        self.canary_now: dict = {}
        self.events: list[dict] = []           # Flagger's events for the Canary
        self.synced_at = time.time()
        self.app_path = OVERLAY                # what the Application in this cluster deploys
        self.kube = self.stack.enter_context(StandIn(self._kube, tls=(cert, key)))
        self.built: list[dict] = []
        self.credentials = {
            ".gitconfig": f'[credential]\n\thelper = store\n[credential "http://127.0.0.1:{self.server.port}"]\n'
                          '\tusername = "ci-bot"\n',
            ".git-credentials": f"http://ci-bot:{TOKEN}@127.0.0.1:{self.server.port}\n",
        }

    def fill(self, text: str) -> str:
        """IMAGE and REGISTRY in a test's file contents: this world's image and registry."""
        return text.replace("IMAGE", self.image).replace("REGISTRY", self.registry_host)

    def close(self):
        self.stack.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- the Kubernetes API: the app's Application follows the config repo's head
    def kustomize_build(self, overlay: str = OVERLAY, ref: str = "main") -> list[dict]:
        """What Argo CD renders from `overlay` at `ref` of the config repo: `kustomize build` with the kustomize
        Argo CD bundles (the toolchain's), every object validated strictly (a build that fails or an object the
        API server would refuse fails the test)."""
        self.builds += 1
        tree = self.root / f"config-tree-{self.builds}"
        tree.mkdir()
        archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=self.server.bare("org/gitops-config.git"),
                                 capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        done = subprocess.run([self.kustomize, "build", str(tree / overlay)], capture_output=True, text=True)
        assert done.returncode == 0, f"kustomize build {overlay} at {ref} failed: {done.stderr}"
        docs = [d for d in yaml.safe_load_all(done.stdout) if d]
        problems = [f"{d['kind']}/{d['metadata'].get('name')}: {p}" for d in docs for p in validate.problems(d, {})]
        assert problems == [], problems
        return docs

    def built_image(self, overlay: str = OVERLAY, ref: str = "main") -> str:
        """The image the overlay's Deployment runs, as kustomize renders it (image:tag@digest)."""
        [deployment] = [d for d in self.kustomize_build(overlay, ref) if d["kind"] == "Deployment"]
        return deployment["spec"]["template"]["spec"]["containers"][0]["image"]

    def deployed_image(self) -> str:
        """What the dev overlay at the config repo's head deploys (image:tag@digest)."""
        return self.built_image(OVERLAY)

    def _deployment(self, which: str) -> dict:
        image = {"new": self.deployed_image(), "old": f"{self.image}:old@sha256:{'0' * 64}"}[which]
        return {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}

    def _canary(self, path: str):
        if path.startswith("/apis/flagger.app/"):
            if self.canary_script:
                self.canary_now = self.canary_script.pop(0) if len(self.canary_script) > 1 else self.canary_script[0]
            now = self.canary_now
            if not now:
                return json_answer(404, {"kind": "Status", "message": "canaries.flagger.app not found"})
            status = {"phase": now["phase"], "conditions": [{"type": "Promoted", "status": "False",
                                                             "message": now.get("message", "")}]}
            if "changed" in now:   # seconds relative to when Argo CD finished the sync
                status["lastTransitionTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime(self.synced_at + now["changed"]))
            if "weight" in now:
                status["canaryWeight"] = now["weight"]
            return json_answer(200, {"spec": {"targetRef": {"name": "person-service"}}, "status": status})
        if path.endswith("/deployments/person-service"):
            return json_answer(200, self._deployment(self.canary_now.get("target", "new")))
        if path.endswith("/deployments/person-service-primary"):
            if "primary" not in self.canary_now:
                return json_answer(404, {"kind": "Status", "message": "not found"})
            return json_answer(200, self._deployment(self.canary_now["primary"]))
        if "/events" in path:
            return json_answer(200, {"items": self.events})
        return None

    def _kube(self, request):
        if request.headers.get("authorization") != f"Bearer {KUBE_TOKEN}":
            return json_answer(401, {"kind": "Status", "message": "Unauthorized"})
        answer = self._canary(request.path)
        if answer is not None:
            return answer
        if self.kube_states:
            return json_answer(200, self.kube_states.pop(0) if len(self.kube_states) > 1 else self.kube_states[0])
        head = self.server.head("org/gitops-config.git")
        if self.sync_failure:
            return json_answer(200, {"status": {"sync": {"status": "OutOfSync", "revision": head},
                                                "health": {"status": "Missing"},
                                                "operationState": {"phase": "Failed", "message": self.sync_failure,
                                                                   "syncResult": {"revision": head, "resources": [
                                                                       {"kind": "Deployment", "name": "person-service",
                                                                        "status": "SyncFailed",
                                                                        "message": "admission webhook denied it"}]}}}})
        finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.synced_at))
        return json_answer(200, {"spec": {"source": {"path": self.app_path}},
                                 "status": {"sync": {"status": "Synced", "revision": head},
                                            "health": {"status": "Healthy"},
                                            "summary": {"images": [self.deployed_image()]},
                                            "operationState": {"phase": "Succeeded", "finishedAt": finished,
                                                               "syncResult": {"revision": head}}}})

    # ---- events
    def push_event(self, files: dict[str, str | None], message: str = "change", author: dict | None = None,
                   branch: str = "main") -> tuple[dict[str, str], bytes]:
        """Commit to the app repo and build GitHub's push event for it (signed with the webhook secret)."""
        before = self.server.head("org/person-service.git", branch) or "0" * 40
        after = self.server.commit("org/person-service.git", files, message, branch=branch, author=author)
        email = (author or {}).get("GIT_COMMITTER_EMAIL", "dev@example.com")
        changed = [f for f, c in files.items() if c is not None]
        removed = [f for f, c in files.items() if c is None]
        payload = {"ref": f"refs/heads/{branch}", "before": before, "after": after, "deleted": False,
                   "repository": {"html_url": "https://github.com/org/person-service",
                                  "clone_url": self.app_repo, "default_branch": "main"},
                   "commits": [{"id": after, "message": message, "committer": {"email": email},
                                "author": {"email": email}, "added": [], "modified": changed, "removed": removed}]}
        raw = json.dumps(payload).encode()
        headers = {"X-GitHub-Event": "push", "Content-Type": "application/json",
                   "X-Hub-Signature-256": "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()}
        return headers, raw

    def runs_for(self, headers: dict[str, str], raw: bytes) -> list[dict]:
        return pipeline_runs(self.objects, headers, raw, {("github-webhook", "secretToken"): WEBHOOK_SECRET})

    # ---- runs
    def run(self, run: dict, params: dict[str, str] | None = None, storage: str = "block",
            pulls_flavor: str = "github") -> RunOutcome:
        spec = run["spec"]
        values = {p["name"]: p["value"] for p in spec.get("params") or []}
        values["config-url"] = self.config_repo
        # The run clones the app's configured sourceRepo (github.com here): this machine's Git server stands
        # in for github.com, as the config repo's does.
        if values.get("source-url", "").startswith("https://github.com/"):
            values["source-url"] = self.server.url(values["source-url"].removeprefix("https://github.com/"))
        if any(p["name"] == "argocd-webhook-url" for p in self._pipeline(spec["pipelineRef"]["name"])["params"]):
            values["argocd-webhook-url"] = f"{self.argocd.url}/api/webhook"
        if any(p["name"] == "api-url" for p in self._pipeline(spec["pipelineRef"]["name"])["params"]):
            values["api-url"] = self.api.url + ("/api/v1" if pulls_flavor == "gitea" else "")
        values.update(params or {})
        template = (spec.get("taskRunTemplate") or {}).get("podTemplate") or {}
        fs_group = (template.get("securityContext") or {}).get("fsGroup")
        workspaces: dict[str, Path | None] = {}
        for n, binding in enumerate(spec.get("workspaces") or []):
            path = self.root / f"volume-{len(os.listdir(self.root))}-{n}"
            if "volumeClaimTemplate" in binding:
                if storage == "block":
                    block_storage_volume(path)
                else:  # kind's local-path provisioner: a hostPath directory, mode 0777
                    path.mkdir()
                    path.chmod(0o777)
                if fs_group is not None and os.geteuid() == 0:
                    kubelet_fs_group(path, fs_group)
            elif "projected" in binding:
                path.mkdir()
                (path / "token").write_text(KUBE_TOKEN)
                shutil.copy(self.cert, path / "ca.crt")
                path.chmod(0o755)
            elif "secret" in binding:
                path.mkdir()
                (path / "config.json").write_text('{"auths": {}}')
            workspaces[binding["name"]] = path
        for declared in self._pipeline(spec["pipelineRef"]["name"]).get("workspaces") or []:
            workspaces.setdefault(declared["name"], None)
        harness = Harness(
            self.objects, self.root, fs_group=fs_group,
            secrets={("argocd-webhook", "secret"): ARGOCD_SECRET, ("pipeline-bot-git", "password"): TOKEN,
                     ("pipeline-bot-git", "username"): "ci-bot"},
            credentials=self.credentials,
            stand_ins={"git-clone": stand_ins.git_clone(fs_group, self.credentials),
                       "kaniko": stand_ins.kaniko(self.registry, self.built)},
            task_defaults={"wait-for-deploy": {"kube-api": self.kube.url, "interval": "0.2"},
                           "release-gate": {"kube-api": self.kube.url}})
        return harness.run(spec["pipelineRef"]["name"], values, workspaces,
                           run_name=run.get("metadata", {}).get("generateName", "run-") + "x1y2z")

    def _pipeline(self, name: str) -> dict:
        return next(o["spec"] for o in self.objects if o["kind"] == "Pipeline" and o["metadata"]["name"] == name)

    def pipeline_run(self, pipeline: str, params: dict[str, str]) -> dict:
        """A hand-started PipelineRun, as the README's example writes it (stage-release)."""
        template = next(o for o in self.objects if o["kind"] == "TriggerTemplate")["spec"]["resourcetemplates"][0]
        run = json.loads(json.dumps(template))
        run["spec"]["pipelineRef"] = {"name": pipeline}
        run["spec"]["params"] = [{"name": k, "value": v} for k, v in params.items()]
        run["spec"]["workspaces"] = [w for w in run["spec"]["workspaces"] if w["name"] in
                                     {d["name"] for d in self._pipeline(pipeline).get("workspaces") or []}]
        run["spec"].pop("taskRunSpecs", None)
        return run

    def overlay(self, ref: str = "main") -> str:
        return self.server.show("org/gitops-config.git", ref, f"{OVERLAY}/kustomization.yaml")
