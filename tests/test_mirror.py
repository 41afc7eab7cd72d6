"""Air-gapped installs: `versions.mirror` sends every chart and release-manifest fetch to one mirror, with its
CA bundle on every classic chart repository; a setting of its own wins over the mirror."""
from __future__ import annotations

import copy

from tests.test_expanded import full_config

MIRROR = "https://mirror.internal/gitops"
FILE_ASSET = "4dabf18193072939515e22adb298388d"   # Pulumi's asset signature key (pulumi.runtime.rpc)


def _mirrored(base_config: dict, **extra) -> dict:
    config = full_config(base_config)
    config["versions"] = {"mirror": {"url": MIRROR + "/", "caFile": "/etc/pki/mirror-ca.pem"}, **extra}
    return config


def _fetches(result) -> tuple[list[dict], list[str]]:
    """(repositoryOpts of every Helm release, every release-manifest URL) the program hands the provider."""
    releases = [{**r.inputs, "_type": r.type} for r in result.resources if r.type.startswith("kubernetes:helm.sh/")]
    urls = []
    for r in result.resources:
        if r.type in ("kubernetes:yaml/v2:ConfigFile", "kubernetes:yaml/v2:ConfigGroup", "kubernetes:yaml:ConfigFile"):
            urls += [r.inputs["file"]] if "file" in r.inputs else list(r.inputs.get("files", []))
    return releases, urls


def test_everything_comes_from_the_mirror_with_its_ca(run, base_config):
    result = run(_mirrored(base_config))
    assert not result.errors, result.errors
    releases, urls = _fetches(result)
    assert len(releases) >= 5 and len(urls) >= 4
    for release in releases:
        opts = release.get("repositoryOpts")
        if opts is None:       # an OCI chart reference carries its registry in `chart`
            assert release["chart"].startswith("oci://"), release
            raise AssertionError(f"{release['chart']}: not from the mirror")
        assert opts["repo"] == f"{MIRROR}/charts", release.get("chart")
        ca = opts["caFile"]
        # helm.sh/v3 Release takes a path; helm.sh/v4 Chart an asset (the provider refuses a string there:
        # "cannot unmarshal into non-empty interface type pulumi.AssetOrArchive", found by the real `pulumi up`)
        if release["_type"] == "kubernetes:helm.sh/v4:Chart":
            assert isinstance(ca, dict) and ca.get("path") == "/etc/pki/mirror-ca.pem" and FILE_ASSET in ca, ca
        else:
            assert ca == "/etc/pki/mirror-ca.pem", ca
    for url in urls:
        assert url.startswith((f"{MIRROR}/releases/tekton/", f"{MIRROR}/releases/flux/")), url


def test_mirror_paths_are_the_layout_of_shared_mirror(run, base_config):
    from tools.expand import mirror_path
    _, urls = _fetches(run(_mirrored(base_config)))
    for url in urls:
        # tools/expand.mirror_path is how ../shared/mirror is laid out (its releases/ directory)
        assert url == f"{MIRROR}/releases/{mirror_path(url)}", url


def test_a_setting_of_its_own_wins_over_the_mirror(run, base_config):
    result = run(_mirrored(base_config, argocdChartRepo="oci://registry.internal/charts",
                           tektonReleaseBase="https://tekton.internal/releases"))
    releases, urls = _fetches(result)
    argocd = next(r for r in releases if r.get("name") == "argocd")
    assert argocd["chart"] == "oci://registry.internal/charts/argo-cd" or \
        argocd.get("repositoryOpts", {}).get("repo") == "oci://registry.internal/charts"
    assert any(u.startswith("https://tekton.internal/releases/") for u in urls)
    assert all(not u.startswith(f"{MIRROR}/releases/tekton/") for u in urls)
    assert any(u.startswith(f"{MIRROR}/releases/flux/") for u in urls)


def test_without_a_mirror_nothing_carries_a_ca(run, base_config):
    releases, _ = _fetches(run(full_config(copy.deepcopy(base_config))))
    assert all("caFile" not in (r.get("repositoryOpts") or {}) for r in releases)


def test_a_mirror_must_be_https(run, base_config):
    config = _mirrored(base_config)
    config["versions"]["mirror"]["url"] = "http://mirror.internal"
    result = run(config)
    assert any("versions.mirror.url" in e for e in result.errors), result.errors
