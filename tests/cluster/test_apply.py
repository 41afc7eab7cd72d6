"""Every object a stack installs, applied to a real kube-apiserver v1.35.5 (etcd + API server from the toolchain,
tests/cluster/apiserver.py) with server-side apply, in the order a real install creates them: the platform's own
objects and every chart's and release manifest's, expanded from ../shared/mirror (tools/expand.py).

This is the weaker real check issue 19 allows before the real `pulumi up`: the real API server's validation (CRD
schemas with their CEL rules, ValidatingAdmissionPolicies, built-in field validation, name rules, NodePort and
ClusterIP allocation, RBAC escalation checks) judges every object, and its authorizer answers what each platform
ServiceAccount may do. Nothing runs: no kubelet, no controllers.

Not applied, because no process serves them here (so their behaviour is untested; the kind e2e covers them):
the admission webhook configurations (Tekton Pipelines' and Triggers' webhooks, cert-manager's, Envoy Gateway's
topology injector). CRD conversion webhooks are kept: objects are written at their storage version.
"""
from __future__ import annotations

import copy
import json
import time
from collections import Counter

import pytest

from tests.conftest import BASE_CONFIG, STACKS
from tests.test_expanded import expanded
from tools.render import to_yaml

pytestmark = pytest.mark.cluster

WEBHOOKS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def cluster_tool(name: str) -> str:
    from tools.toolchain import locate
    path = locate(name)
    if path is None:
        pytest.skip(f"{name} is not installed: build the simulated cluster with python -m tools.toolchain --group cluster")
    return str(path)


def _plain(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc.get("metadata", {}).pop("creationTimestamp", None)
    return doc


def wait_aggregated(plane, objects: list[dict], timeout: float = 60) -> None:
    """Until the aggregation controller has filled every aggregated ClusterRole of the render."""
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "ClusterRole" and o.get("aggregationRule")]
    deadline = time.monotonic() + timeout
    while names and time.monotonic() < deadline:
        roles = json.loads(plane.kubectl("get", "clusterroles", "-o", "json", *names).stdout)
        roles = roles.get("items", [roles])
        if all(r.get("rules") for r in roles):
            return
        time.sleep(0.5)
    assert not names, f"aggregated ClusterRoles still empty after {timeout} s: {names}"


def install(plane, objects: list[dict]) -> dict[str, float]:
    """Namespaces, then CRDs (until Established), then everything else; returns the seconds of each phase."""
    timings = {}
    started = time.monotonic()
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    rest = [o for o in objects if o["kind"] not in ("Namespace", "CustomResourceDefinition", *WEBHOOKS)]
    # Namespaces the objects are placed in but nobody creates would be a bug of the program: Helm does not
    # create a release's namespace unless asked, nor does yaml/v2.
    wanted = {o["metadata"].get("namespace") for o in rest} - {None, ""}
    missing = wanted - {n["metadata"]["name"] for n in namespaces} - {"default", "kube-system", "kube-public"}
    assert missing == set(), f"objects are placed in namespaces nothing creates: {sorted(missing)}"
    apply = ["apply", "--server-side", "--field-manager", "gitops-test", "-f", "-"]
    plane.kubectl(*apply, input=to_yaml([_plain(o) for o in namespaces]))
    plane.kubectl(*apply, input=to_yaml([_plain(o) for o in crds]))
    plane.kubectl("wait", "--for", "condition=Established", "--timeout", "120s",
                  *[f"crd/{c['metadata']['name']}" for c in crds])
    timings["namespaces+crds"] = time.monotonic() - started
    started = time.monotonic()
    done = plane.kubectl(*apply, input=to_yaml([_plain(o) for o in rest]), check=False)
    assert done.returncode == 0, done.stderr[-6000:]
    timings["objects"] = time.monotonic() - started
    wait_aggregated(plane, rest)
    return timings


@pytest.fixture(scope="module", params=[*STACKS, "full"])
def installed(request):
    """(stack, objects, timings, control plane): each stack in its own fresh API server (without a namespace
    controller a deleted namespace never goes away, so API servers are not reused)."""
    from tests.cluster.apiserver import ControlPlane
    name = request.param
    tools = [cluster_tool(t) for t in ("etcd", "kube-apiserver", "kubectl", "kube-controller-manager")]
    result, _, docs = expanded(name, copy.deepcopy(BASE_CONFIG))
    # The platform's objects with their real values, as `pulumi up` sends them: the render's `[secret]` masks
    # are not valid in typed Secrets (a dockerconfigjson must be JSON). They stay in this throw-away API
    # server, whose audit log keeps metadata only.
    platform = [raw_manifest(r) for r in result.k8s_objects()]
    objects = [*platform, *docs]
    plane = ControlPlane(*tools[:3], controller_manager=tools[3])
    try:
        timings = install(plane, objects)
        yield name, objects, timings, plane
    finally:
        plane.close()


def raw_manifest(reg) -> dict:
    body = {k: v for k, v in (reg.raw_inputs or reg.inputs).items() if v is not None}
    return {"apiVersion": body.pop("apiVersion"), "kind": body.pop("kind"), **body}


def can_i(plane, verb: str, resource: str, account: str, namespace: str | None = None) -> bool:
    args = ["auth", "can-i", verb, resource, "--as", f"system:serviceaccount:{account}"]
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    return plane.kubectl(*args, check=False).stdout.strip() == "yes"


def test_every_object_is_accepted_and_stored_as_rendered(installed):
    name, objects, timings, plane = installed
    applied = [o for o in objects if o["kind"] not in WEBHOOKS]
    # `kubectl get -f` reads each object back by its identity: any object the server did not store fails it.
    stored = json.loads(plane.kubectl("get", "-o", "json", "-f", "-", input=to_yaml([_plain(o) for o in applied])).stdout)
    items = stored["items"] if "items" in stored else [stored]
    assert len(items) == len(applied)
    requests = Counter(e["verb"] for e in plane.audit() if e.get("user", {}).get("username") == "gitops-test-admin")
    print(f"\n{name}: {len(applied)} objects applied ({len(objects) - len(applied)} webhook configurations left "
          f"out); " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + f"; admin requests {dict(requests)}")


def test_node_ports_are_allocated_as_rendered(installed):
    _, objects, _, control_plane = installed
    wanted = {(o["metadata"]["namespace"], o["metadata"]["name"], p["nodePort"]) for o in objects
              if o["kind"] == "Service" for p in o["spec"].get("ports") or [] if p.get("nodePort")}
    services = json.loads(control_plane.kubectl("get", "services", "--all-namespaces", "-o", "json").stdout)["items"]
    got = {(s["metadata"]["namespace"], s["metadata"]["name"], p.get("nodePort")) for s in services
           for p in s["spec"].get("ports") or []}
    assert wanted <= got


def test_the_real_authorizer_agrees_with_the_docs(installed):
    name, objects, _, plane = installed
    check_authorizer(plane, objects)


def check_authorizer(plane, objects: list[dict]) -> None:
    """What each platform ServiceAccount may do, asked of the real API server's RBAC authorizer."""
    controller = "argocd:argocd-application-controller"
    assert can_i(plane, "list", "secrets", controller) and can_i(plane, "watch", "deployments.apps", controller)
    assert not can_i(plane, "get", "nodes/proxy", controller)            # docs/argocd.md: no cluster-wide get
    assert not can_i(plane, "patch", "namespaces", controller)
    assert not can_i(plane, "create", "clusterrolebindings.rbac.authorization.k8s.io", controller)
    apps = {o["spec"]["destination"]["namespace"] for o in objects if o["kind"] == "Application"}
    assert apps
    for namespace in apps:
        assert can_i(plane, "create", "deployments.apps", controller, namespace)
        assert can_i(plane, "patch", "deployments.apps", "argocd:argocd-server", namespace)
        assert not can_i(plane, "create", "pods/exec", "argocd:argocd-server", namespace)
    assert can_i(plane, "create", "pipelineruns.tekton.dev", "gitops-ci:gitops-ci-listener", "gitops-ci")
    assert not can_i(plane, "get", "secrets", "gitops-ci:gitops-ci-listener", "gitops-ci")
    assert can_i(plane, "create", "deployments.apps", "gitops-ci:pipeline-bot", "gitops-ci")
    assert not can_i(plane, "create", "deployments.apps", "gitops-ci:pipeline-bot", next(iter(apps)))
