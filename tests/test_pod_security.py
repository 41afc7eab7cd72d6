"""Pod Security admission on every namespace the platform creates, and every pod it runs passing the
level its namespace enforces (the Pod Security Standards' checks in tests/pod_security.py). Where a
namespace stays at `baseline` the reason is one named workload that needs root."""
from __future__ import annotations

import copy
import tarfile

import pytest
import yaml

from components.flagger import chart_values as flagger_values
from components.flagger import loadtester_values
from tests.conftest import SHARED
from tests.pod_security import pod_spec_of, restricted_violations, violations
from tools.render import manifests

PSA = "pod-security.kubernetes.io"
# namespace -> why it enforces only baseline
BASELINE_BECAUSE = {
    "gitops-ci": "the builds' kaniko step runs as root",
    "gitea": "the seeding Job's kaniko container builds the bootstrap image as root",
}


def everything(config: dict) -> dict:
    """The embedded kind flavour with the Gateway, TLS (cert-manager), Flux and canaries."""
    config = copy.deepcopy(config)
    for key in ("configRepo", "registry", "apps"):
        config.pop(key)
    config["gateway"] = {"domain": "gitops.test", "tls": {"issuer": "selfsigned"}}
    return config


@pytest.fixture(scope="module")
def rendered():
    from tests.conftest import BASE_CONFIG
    from tools.mockrun import run_program
    result = run_program("dev", everything(BASE_CONFIG), {})
    assert result.errors == []
    flux = copy.deepcopy(BASE_CONFIG)
    flux["imageUpdates"] = "flux"
    flux["apps"] = [dict(a, imagePolicy={"semver": ">=1.0.0"}) for a in flux["apps"]]
    with_flux = run_program("dev", flux, {"gitToken": "t", "registryPassword": "p"})
    assert with_flux.errors == []
    return manifests(result) + manifests(with_flux)


def namespaces(docs) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in docs if d["kind"] == "Namespace"}


def test_every_namespace_enforces_a_level_and_warns_and_audits_at_restricted(rendered, stack_result):
    _, result = stack_result
    for docs in (rendered, manifests(result)):
        for name, labels in namespaces(docs).items():
            assert labels.get(f"{PSA}/enforce") in ("baseline", "restricted"), name
            assert labels[f"{PSA}/warn"] == labels[f"{PSA}/audit"] == "restricted", name
    names = namespaces(rendered)
    assert {"argocd", "gitops-ci", "flux-system", "flagger-system", "gateway-system", "envoy-gateway-system",
            "cert-manager", "gitea", "registry", "hello-dev"} <= set(names)
    below = {n for n, labels in names.items() if labels[f"{PSA}/enforce"] == "baseline"}
    apps = {"hello-dev", "book-dev", "web-dev"}   # podSecurity (default baseline) is the user's choice
    assert below - apps == set(BASELINE_BECAUSE)


def test_every_pod_the_platform_runs_passes_its_namespaces_level(rendered):
    levels = {n: labels[f"{PSA}/enforce"] for n, labels in namespaces(rendered).items()}
    checked = 0
    for doc in rendered:
        pod = pod_spec_of(doc)
        if pod is None:
            continue
        ns = doc["metadata"]["namespace"]
        assert violations(pod, levels[ns]) == [], f"{doc['kind']} {ns}/{doc['metadata']['name']}"
        if ns not in BASELINE_BECAUSE:
            assert restricted_violations(pod) == [], f"{doc['kind']} {ns}/{doc['metadata']['name']}"
        checked += 1
    assert checked >= 4   # Gitea, the registry, Prometheus, the seeding Job


def test_only_the_kaniko_container_of_the_seeding_job_is_below_restricted(rendered):
    [job] = [d for d in rendered if d["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    assert {v.split(":")[0] for v in restricted_violations(pod)} == {"bootstrap-image"}


def test_the_pipeline_steps_other_than_the_build_pass_restricted_container_checks(rendered):
    """Tekton runs each step as a container of the TaskRun's pod, whose securityContext comes from the
    PipelineRun's podTemplate; the Task steps that set their own must not need root."""
    for task in (d for d in rendered if d["kind"] == "Task"):
        for step in task["spec"]["steps"]:
            sc = step.get("securityContext")
            if sc is not None:
                assert sc.get("runAsUser") != 0 and sc.get("allowPrivilegeEscalation") is False, \
                    f"{task['metadata']['name']}/{step['name']}"


def chart_defaults(chart: str, version: str) -> dict:
    archive = SHARED / "mirror" / "charts" / f"{chart}-{version}.tgz"
    if not archive.exists():
        pytest.skip(f"the pinned chart {archive.name} is not in ../shared/mirror/charts (../shared absent)")
    with tarfile.open(archive) as tar:
        return yaml.safe_load(tar.extractfile(f"{chart}/values.yaml"))


def container_pod(context: dict, pod_context: dict | None = None) -> dict:
    return {"securityContext": pod_context or {}, "containers": [{"name": "c", "securityContext": context}]}


def test_flagger_and_the_loadtester_pass_restricted_with_the_values_the_program_passes(base_config):
    from components.config.loader import load_config
    cfg = load_config(base_config, "dev")
    # The charts put `securityContext.context` on the container and set no pod-level securityContext
    # (charts/flagger/templates/deployment.yaml, charts/loadtester/templates/deployment.yaml).
    flagger = flagger_values(cfg)["securityContext"]
    assert flagger["enabled"] is True and flagger["context"]["runAsUser"] == 10001
    assert restricted_violations(container_pod(flagger["context"])) == []
    loadtester = loadtester_values()["securityContext"]
    assert loadtester["enabled"] is True
    assert restricted_violations(container_pod(loadtester["context"])) == []
    # Without them, the charts' own defaults fail restricted: the check above can fail.
    assert restricted_violations(container_pod(chart_defaults("flagger", "1.44.0")["securityContext"]["context"]))


@pytest.mark.parametrize("component", ["controller", "server", "repoServer", "redis", "applicationSet",
                                       "notifications"])
def test_argo_cd_chart_defaults_pass_restricted(component):
    """The argocd namespace enforces restricted on the chart's own securityContexts (not HA mode)."""
    values = chart_defaults("argo-cd", "10.1.1")
    section = values[component]
    pod = container_pod(section["containerSecurityContext"],
                        section.get("securityContext") or values["global"].get("securityContext"))
    assert restricted_violations(pod) == []


def test_app_namespaces_follow_pod_security_config(run, base_config):
    base_config["podSecurity"] = "restricted"
    result = run(base_config)
    assert result.errors == []
    for ns in ("book-dev", "web-dev"):
        assert result.find("Namespace", ns).inputs["metadata"]["labels"][f"{PSA}/enforce"] == "restricted"
    base_config["podSecurity"] = "privileged"
    refused = run(base_config)
    assert [e for e in refused.errors if e.startswith("gitops-platform:podSecurity: ")]
