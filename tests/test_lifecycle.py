"""Safe lifecycle: prod protects what cannot be recreated cheaply, and the dependency graph forces the
only safe destroy order (Pulumi deletes a resource only after everything that depends on it):
Applications before Argo CD, Canaries before Flagger, Flux objects before Flux, namespaces last."""
from __future__ import annotations

import pytest

from tools.mockrun import Registration, RunResult

ARGO_KINDS = {"Application", "AppProject", "ApplicationSet"}
FLUX_GROUPS = ("source.toolkit.fluxcd.io/", "image.toolkit.fluxcd.io/", "notification.toolkit.fluxcd.io/",
               "kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/")


def everything_on(config: dict) -> dict:
    config = dict(config)
    config["imageUpdates"] = "flux"
    config["argocd"] = {"cascadeDelete": True, "appOfApps": {"enabled": True}}
    config["apps"] = [dict(app, imagePolicy={"semver": ">=1.0.0"}, canary={"enabled": True})
                      for app in config["apps"]]
    return config


def depends_on(result: RunResult, reg: Registration) -> set[str]:
    """Every URN `reg` transitively depends on (explicit and through inputs)."""
    by_urn = result.by_urn()
    seen: set[str] = set()
    todo = list(reg.dependencies)
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        if urn in by_urn:
            todo.extend(by_urn[urn].dependencies)
    return seen


def installs(result: RunResult, *types: str) -> list[Registration]:
    return [r for r in result.resources if r.type in types]


def kind_of(reg: Registration) -> str:
    return reg.inputs.get("kind", "") if reg.is_kubernetes_object else ""


@pytest.fixture(params=["dev", "prod"])
def result(request, run, base_config) -> RunResult:
    if request.param == "prod":
        base_config["cluster"] = {"provider": "eks", "eks": {"region": "us-west-2"}}
    outcome = run(everything_on(base_config), stack=request.param)
    assert outcome.errors == []
    return outcome


def test_argo_cd_objects_are_deleted_before_argo_cd(result):
    argocd = [r for r in installs(result, "kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "argo-cd"]
    assert len(argocd) == 1
    objects = [r for r in result.k8s_objects() if kind_of(r) in ARGO_KINDS]
    assert any(kind_of(r) == "Application" for r in objects)
    for obj in objects:
        assert argocd[0].urn in depends_on(result, obj), obj.name


def test_cascade_delete_puts_the_resources_finalizer_on_applications(result):
    for app in (r for r in result.k8s_objects() if kind_of(r) == "Application"):
        assert "resources-finalizer.argocd.argoproj.io" in (app.inputs["metadata"].get("finalizers") or [])


def test_canaries_are_deleted_before_flagger(result):
    flagger = [r for r in installs(result, "kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "flagger"]
    assert len(flagger) == 1
    canaries = [r for r in result.k8s_objects() if kind_of(r) == "Canary"]
    assert len(canaries) == 2
    for canary in canaries:
        assert flagger[0].urn in depends_on(result, canary), canary.name


def test_each_canary_is_deleted_before_the_application_that_deploys_its_deployment(result):
    """revertOnDeletion: Flagger's finalizer restores the Deployment before it lets the Canary go, so the
    Application (and the Deployment it synced) must outlive the Canary, or `pulumi destroy` hangs."""
    canaries = [r for r in result.k8s_objects() if kind_of(r) == "Canary"]
    assert canaries and all(c.inputs["spec"]["revertOnDeletion"] is True for c in canaries)
    applications = {r.inputs["metadata"]["name"]: r for r in result.k8s_objects() if kind_of(r) == "Application"}
    for canary in canaries:
        app = applications[canary.inputs["metadata"]["name"]]
        assert app.urn in depends_on(result, canary), canary.name
        assert canary.urn not in depends_on(result, app), "no cycle: the Application does not wait for it"


def test_flux_objects_are_deleted_before_flux(result):
    flux_objects = [r for r in result.k8s_objects() if r.inputs["apiVersion"].startswith(FLUX_GROUPS)]
    assert flux_objects
    install_urns = {r.urn for r in result.resources if r.type.startswith("kubernetes:yaml")
                    and "flux" in r.name}
    assert install_urns, "no Flux install found"
    for obj in flux_objects:
        assert install_urns & depends_on(result, obj), obj.name


def test_namespaces_are_deleted_last(result):
    namespaces = {r.inputs["metadata"]["name"]: r for r in result.k8s_objects() if kind_of(r) == "Namespace"}
    for obj in result.k8s_objects():
        ns = (obj.inputs.get("metadata") or {}).get("namespace")
        if ns in namespaces:
            assert namespaces[ns].urn in depends_on(result, obj), f"{kind_of(obj)} {ns}/{obj.name}"
    # Applications deploy into app namespaces: the namespace must outlive the Application's cascade delete.
    for app in (r for r in result.k8s_objects() if kind_of(r) == "Application"):
        dest = app.inputs["spec"]["destination"]["namespace"]
        if dest in namespaces:
            assert namespaces[dest].urn in depends_on(result, app), app.name


def test_installs_live_in_namespaces_that_outlive_them(result):
    namespaces = {r.inputs["metadata"]["name"]: r for r in result.k8s_objects() if kind_of(r) == "Namespace"}
    for release in installs(result, "kubernetes:helm.sh/v3:Release"):
        ns = release.inputs.get("namespace")
        if ns in namespaces:
            assert namespaces[ns].urn in depends_on(result, release), release.name


def test_prod_protects_cluster_and_namespaces(run, base_config):
    base_config["cluster"] = {"provider": "eks", "eks": {"region": "us-west-2"}}
    result = run(base_config, stack="prod")
    protected = {r.type for r in result.resources if r.protect}
    assert {"eks:index:Cluster", "eks:index:ManagedNodeGroup"} <= protected
    for ns in (r for r in result.k8s_objects() if kind_of(r) == "Namespace"):
        assert ns.protect, ns.inputs["metadata"]["name"]


def test_protection_can_be_turned_off_in_prod(run, base_config):
    base_config["cluster"] = {"provider": "eks", "eks": {"region": "us-west-2"}}
    base_config["protect"] = False
    result = run(base_config, stack="prod")
    assert not [r.name for r in result.resources if r.protect]


def test_dev_protects_nothing_by_default(run, base_config):
    result = run(base_config, stack="dev")
    assert not [r.name for r in result.resources if r.protect]


def test_every_helm_release_waits_long_enough_for_a_cold_kind_start(run, base_config):
    """The provider waits 300 s for a release unless told (helm_release.go defaultTimeoutSeconds): less
    than the first image pulls on a laptop take. Every release, on a stack that installs every chart."""
    base_config["gateway"] = {"domain": "gitops.test", "tls": {"issuer": "selfsigned"}}
    outcome = run(everything_on(base_config))
    assert outcome.errors == []
    releases = installs(outcome, "kubernetes:helm.sh/v3:Release")
    assert {r.inputs["chart"].rsplit("/", 1)[-1] for r in releases} >= {
        "argo-cd", "flagger", "gateway-helm", "cert-manager"}
    assert {r.inputs["chart"]: r.inputs.get("timeout") for r in releases} == {
        r.inputs["chart"]: 900 for r in releases}
