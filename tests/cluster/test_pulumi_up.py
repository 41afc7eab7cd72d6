"""The real `pulumi up`: the Pulumi CLI (engine) and the pulumi-kubernetes provider built from Go modules by the
toolchain, against the simulated cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler v1.35.5
and kwok playing the kubelet), with every chart and release manifest fetched over HTTPS from a mirror of
../shared/mirror signed by a throw-away CA: the air-gapped install a user does.

What ran, exactly (also in the JSON report): pulumi v3.274.0 (nearest served at or above the SDK's 3.272.0), the
provider v4.25.0 (the only one served; the SDK is 4.34.2), the program through the SDK's own language runtime
server (tools/langhost.py: the Go proxy does not serve pulumi-language-python). Steps, each timed:
up; up --expect-no-changes; refresh + preview --expect-no-changes; a config change (one more app, a canary
setting) whose preview --diff names exactly the expected resources, then up; preview with the policy pack;
destroy, after which nothing the program created is left but the CRDs the charts keep and the one Helm hook
Helm cannot delete (components/gateway.py LEFT_AFTER_DESTROY). Helm hooks Helm deletes once they ran are checked
gone after the install.

Not covered (no container ever runs): the Git server, the registry, builds, webhooks' deliveries, canary
analysis, the third-party admission webhooks (webhook admission is off in this fixture) -- the kind e2e covers
them. Generated secrets (pulumi-random) are not exercised: the provider is not served, the stack sets them.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import sys
import threading
from collections import Counter
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import pytest

from components.gateway import LEFT_AFTER_DESTROY
from components.toolchain import Pins
from tests.cluster.apiserver import ControlPlane, kwok_stages
from tests.cluster.engine import REPO
from tests.cluster.test_apply import check_authorizer, cluster_tool, raw_manifest
from tests.conftest import SECRETS, SHARED

pytestmark = pytest.mark.cluster

MIRROR = SHARED / "mirror"
STACK = "clustertest"
REPORT = Path(os.environ.get("GITOPS_CLUSTER_REPORT", Path(__file__).resolve().parents[2] / "reports" /
                             "cluster-test.json"))
# Set by the stack, not generated (pulumi-random's provider is not served to build): see the module docstring.
STACK_SECRETS = {**SECRETS, "argocdWebhookSecret": "cluster-test-argocd-webhook-0123456789",
                 "tektonWebhookSecret": "cluster-test-tekton-webhook-0123456789",
                 "fluxWebhookToken": "cluster-test-flux-webhook-0123456789"}


def stack_config(kubeconfig: Path, mirror: str, ca: Path) -> dict:
    """An existing-cluster stack with every component on, everything fetched from the mirror."""
    return {
        "environment": "staging",
        "cluster": {"provider": "existing", "name": "gitops-cluster-test",
                    "existing": {"kubeconfig": str(kubeconfig), "context": "test"}},
        "configRepo": {"url": "https://git.example.com/org/gitops-config.git", "revision": "main",
                       "username": "ci-bot"},
        "registry": {"server": "registry.example.com", "username": "ci-bot"},
        "imageUpdates": "flux",
        "gateway": {"domain": "gitops.test", "tls": {"issuer": "letsencrypt", "email": "ops@example.com"}},
        "apps": [{"name": "person-service", "namespace": "book-stage", "path": "config/overlays/stage",
                  "image": "registry.example.com/org/person-service",
                  "sourceRepo": "https://git.example.com/org/person-service.git",
                  "imagePolicy": {"semver": ">=1.0.0 <2.0.0"}, "canary": {"enabled": True, "port": 8080}}],
        "versions": {"mirror": {"url": mirror, "caFile": str(ca)}},
    }


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    if not (MIRROR / "charts").is_dir():
        pytest.skip("../shared/mirror is not beside the repo (../shared absent)")
    return {name: cluster_tool(name) for name in (
        "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl", "pulumi",
        "pulumi-resource-kubernetes")}


def argocd_server_stand_in(plane, stop: threading.Event) -> threading.Thread:
    """The one write of a platform container the program reads back: argocd-server, on its first start, writes
    the initial admin password Secret (argo-cd@v3.4.4:util/settings/settings.go initialPasswordSecretName) and
    the program reads it (components/argocd.py). No container runs here, so once the argocd namespace exists
    this thread writes it as the server would."""
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "argocd-initial-admin-secret", "namespace": "argocd"},
              "data": {"password": base64.b64encode(b"cluster-test-initial-admin").decode()}}

    def run():
        while not stop.wait(1):
            if plane.kubectl("get", "namespace", "argocd", check=False).returncode == 0:
                if plane.kubectl("apply", "-f", "-", input=json.dumps(secret), check=False).returncode == 0:
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def rendered(config: dict) -> tuple[object, list[dict]]:
    """(mock result, every object the offline render predicts the cluster holds) for this stack config."""
    from tests.conftest import toolchain_binary
    from tools.expand import expand
    from tools.mockrun import run_program
    from tools.render import manifests
    result = run_program(STACK, config, STACK_SECRETS)
    assert not result.errors, result.errors
    docs = expand(result, manifests(result), str(MIRROR / "charts"), str(MIRROR / "releases"),
                  toolchain_binary("helm"))
    return result, [raw_manifest(r) for r in result.k8s_objects()] + docs


def identity(doc: dict) -> tuple[str, str, str, str]:
    group = doc["apiVersion"].rsplit("/", 1)[0] if "/" in doc["apiVersion"] else ""
    return group, doc["kind"], doc["metadata"].get("namespace") or "", doc["metadata"]["name"]


def in_cluster(plane, wanted: list[dict]) -> set[tuple[str, str, str, str]]:
    """The identities of `wanted` the API server holds (one list call per kind)."""
    held = set()
    for api_version, kind in sorted({(d["apiVersion"], d["kind"]) for d in wanted}):
        group, _, version = api_version.rpartition("/")
        resource = f"{kind}.{version}.{group}" if group else kind
        listed = plane.kubectl("get", resource, "--all-namespaces", "-o", "json", check=False)
        if listed.returncode == 0:
            held |= {identity(item) for item in json.loads(listed.stdout)["items"]}
    return held


def hook_succeeded(doc: dict) -> bool:
    """A Helm hook Helm deletes once its phase succeeded (cert-manager's startupapicheck, Envoy Gateway's certgen
    RBAC: components/gateway.py CERTGEN_RBAC_ANNOTATIONS)."""
    annotations = doc["metadata"].get("annotations") or {}
    return "helm.sh/hook" in annotations and "hook-succeeded" in annotations.get("helm.sh/hook-delete-policy", "")


def expected_objects(docs: list[dict]) -> list[dict]:
    """What the cluster holds after an up: every object, hooks included, but the hooks Helm deletes once they
    ran and the Jobs the TTL controller may already have removed (ttlSecondsAfterFinished)."""
    return [d for d in docs if not hook_succeeded(d)
            and not (d["kind"] == "Job" and d.get("spec", {}).get("ttlSecondsAfterFinished") is not None)]


def urn_tail(urn: str) -> str:
    """`type::name` of a URN: without the stack, the project and the parents' types (mocks keep only the
    nearest parent's type in a URN; the engine keeps the whole chain)."""
    qualified, name = urn.split("::", 2)[2].rsplit("::", 1)
    return f"{qualified.rsplit('$', 1)[-1]}::{name}"


def changes(before, after) -> dict[str, set[str]]:
    """What a preview must show between two mock results: created, deleted and updated resources (by URN tail)."""
    old = {urn_tail(r.urn): r for r in before.resources}
    new = {urn_tail(r.urn): r for r in after.resources}
    return {"create": set(new) - set(old), "delete": set(old) - set(new),
            "update": {u for u in set(old) & set(new) if old[u].inputs != new[u].inputs}}


def test_pulumi_up_lifecycle(tools):
    from tests.cluster.engine import Engine, Mirror
    report: dict = {"ran": {}, "steps": {}, "requests": {}}
    plane = ControlPlane(tools["etcd"], tools["kube-apiserver"], tools["kubectl"],
                         controller_manager=tools["kube-controller-manager"], controllers="*",
                         scheduler=tools["kube-scheduler"], kwok=tools["kwok"], kwok_stages=kwok_stages(),
                         webhooks=False)
    mirror = Mirror(MIRROR)
    engine = Engine(tools["pulumi"], tools["pulumi-resource-kubernetes"], STACK,
                    extra_env={"SSL_CERT_FILE": str(mirror.ca), "PULUMI_POLICY_PYTHON": sys.executable})
    stop = threading.Event()
    argocd_server_stand_in(plane, stop)
    try:
        report["ran"] = {"pulumi": engine.run("version").stdout.strip(),
                         "provider": f"pulumi-kubernetes {Pins.pulumi_kubernetes} (the SDK: {version('pulumi_kubernetes')})",
                         "kubernetes": json.loads(plane.kubectl("version", "-o", "json").stdout)
                         ["serverVersion"]["gitVersion"],
                         "language host": "pulumi " + version("pulumi") + " automation LanguageServer (tools/langhost.py)"}
        engine.run("login", f"file://{engine.root / 'state'}")
        engine.run("stack", "init", step="stack init")
        config = stack_config(plane.kubeconfig, mirror.url, mirror.ca)
        engine.configure(config, STACK_SECRETS)
        result, docs = rendered(config)

        # 2-3. up: every resource created, every release deployed, the render's objects in the API server
        engine.run("up", "--yes", "--skip-preview", program=True, step="up")
        resources = engine.resources()
        types = Counter(r["type"] for r in resources)
        report["resources"] = {"total": len(resources), "by_type": dict(sorted(types.items()))}
        registered = {urn_tail(r.urn) for r in result.resources if not r.type.startswith("pulumi:providers:")}
        created = {urn_tail(r["urn"]) for r in resources if r["type"] != "pulumi:pulumi:Stack"
                   and not r["type"].startswith("pulumi:providers:")}
        assert registered - created == set(), "registered under mocks, not created by pulumi up"
        releases = [r for r in resources if r["type"] == "kubernetes:helm.sh/v3:Release"]
        assert len(releases) >= 5, types
        assert {r["outputs"]["name"]: r["outputs"]["status"]["status"] for r in releases} == {
            r["outputs"]["name"]: "deployed" for r in releases}
        wanted = expected_objects(docs)
        missing = {identity(d) for d in wanted} - in_cluster(plane, wanted)
        ran = [d for d in docs if hook_succeeded(d)]
        assert len(ran) >= 9 and in_cluster(plane, ran) & {identity(d) for d in ran} == set(), \
            "hooks with hook-succeeded still there after the install"
        assert missing == set(), f"the render predicts objects the cluster does not hold: {sorted(missing)[:40]}"
        check_authorizer(plane, [d for d in docs if d["kind"] == "Application"])
        report["objects"] = len(wanted)

        # 4. a second up changes nothing; refresh then preview is clean
        engine.run("up", "--yes", "--skip-preview", "--expect-no-changes", program=True, step="second up")
        engine.run("refresh", "--yes", "--skip-preview", program=True, step="refresh")
        engine.run("preview", "--expect-no-changes", program=True, step="preview after refresh")

        # 5. a config change: one more app, a canary setting; the preview shows exactly those changes
        changed = copy.deepcopy(config)
        changed["apps"][0]["canary"]["maxWeight"] = 30
        changed["apps"].append({"name": "web", "namespace": "web-stage", "image": "registry.example.com/org/web",
                                "sourceRepo": "https://git.example.com/org/web.git", "imagePolicy": {"semver": ">=1.0.0"}})
        engine.configure(changed)
        after, after_docs = rendered(changed)
        expected = changes(result, after)
        preview = engine.run("preview", "--diff", "--json", program=True, step="preview of a change")
        steps = json.loads(preview.stdout).get("steps", [])
        shown = {op: {urn_tail(s["urn"]) for s in steps if s["op"] == op} for op in ("create", "delete", "update")}
        report["change"] = {op: len(v) for op, v in shown.items()}
        assert shown["create"] == expected["create"]
        assert shown["delete"] == expected["delete"]
        assert shown["update"] <= expected["update"] and shown["update"], (shown["update"], expected["update"])
        engine.run("up", "--yes", "--skip-preview", program=True, step="up of a change")
        wanted = expected_objects(after_docs)
        missing = {identity(d) for d in wanted} - in_cluster(plane, wanted)
        assert missing == set(), sorted(missing)[:40]

        # 6. the real policy pack, in a real preview
        policy = engine.run("preview", "--policy-pack", str(REPO / "policy" / "pulumi-analyzer-policy"),
                            program=True, step="preview with the policy pack")
        assert "gitops-platform-guardrails" in policy.stdout, policy.stdout[-3000:]

        # 7. destroy: nothing the program created is left but the CRDs Helm keeps and the one Helm hook the
        # README's "Tearing down" names (components/gateway.py LEFT_AFTER_DESTROY)
        engine.run("destroy", "--yes", "--skip-preview", program=True, step="destroy", timeout=1200)
        left = in_cluster(plane, after_docs) & {identity(d) for d in after_docs}
        kept = {i for i in left if i[1] == "CustomResourceDefinition"}
        report["kept_crds"] = sorted(i[3] for i in kept)
        report["left_after_destroy"] = sorted(map(list, left - kept))
        assert left - kept == set(LEFT_AFTER_DESTROY), f"left after destroy: {sorted(left - kept)[:40]}"
    finally:
        stop.set()
        report["steps"] = engine.timings
        audit = plane.audit()
        def at(event: dict) -> float:
            return datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00")).timestamp()
        report["requests_per_step"] = {step: sum(1 for e in audit if "requestReceivedTimestamp" in e
                                                 and start <= at(e) <= end
                                                 and e.get("user", {}).get("username") == "gitops-test-admin")
                                       for step, (start, end) in engine.windows.items()}
        report["requests"] = {"total": len(audit), "by_verb": dict(Counter(e.get("verb") for e in audit)),
                              "by_user": dict(Counter(e.get("user", {}).get("username") for e in audit).most_common(8))}
        report["mirror_requests"] = len(mirror.requests)
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(report, indent=2))
        print("\n" + json.dumps({k: report.get(k) for k in ("ran", "steps", "requests_per_step", "requests", "change")},
                                 indent=2))
        engine.close()
        mirror.close()
        plane.close()
