"""The images the charts run come from the versions table and can be pinned by digest: each chart gets
the value it renders as `repository:tag@sha256:...` (argo-cd, flagger and loadtester render
"repository:tag", gateway-helm splits its image at the tag's ':', cert-manager takes the digest apart)."""
from __future__ import annotations

import pytest

from components.versions import Versions
from tools.render import manifests

DIGEST = "sha256:" + "ab" * 32
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_IMAGES = [name for name in Versions.model_fields if name.startswith("chart_image_")]


def values(result, chart):
    [release] = [r for r in result.of_type(RELEASE) if r.inputs["chart"].rsplit("/", 1)[-1] == chart]
    return release.inputs["values"]


def test_every_chart_image_is_in_the_versions_table_by_tag_and_release():
    pinned = Versions()
    assert len(CHART_IMAGES) == 11
    for name in CHART_IMAGES:
        assert ":" in getattr(pinned, name).rsplit("/", 1)[-1], name
    assert pinned.chart_image_argocd.endswith(f":{pinned.argocd_app_version}")
    assert pinned.chart_image_flagger.endswith(f":{pinned.flagger_chart_version}")
    assert pinned.chart_image_loadtester.endswith(f":{pinned.loadtester_chart_version}")
    assert pinned.chart_image_envoy_gateway.endswith(f":{pinned.envoy_gateway_chart_version}")
    assert pinned.chart_image_cert_manager_controller.endswith(f":{pinned.cert_manager_chart_version}")


def test_digests_reach_every_chart(run, base_config):
    pinned = Versions()
    base_config["versions"] = {
        "".join([n.split("_")[0], *(w.title() for w in n.split("_")[1:])]): f"{getattr(pinned, n)}@{DIGEST}"
        for n in CHART_IMAGES}
    base_config["gateway"] = {"domain": "gitops.test", "tls": {"issuer": "selfsigned"}}
    base_config["apps"][0]["canary"] = {"enabled": True, "loadTest": True}
    result = run(base_config)
    assert result.errors == []
    argocd = values(result, "argo-cd")
    assert argocd["global"]["image"] == {"repository": "quay.io/argoproj/argocd", "tag": f"v3.4.4@{DIGEST}"}
    assert argocd["redis"]["image"] == {"repository": "ecr-public.aws.com/docker/library/redis",
                                        "tag": f"8.2.3-alpine@{DIGEST}"}
    assert values(result, "flagger")["image"] == {"repository": "ghcr.io/fluxcd/flagger", "tag": f"1.44.0@{DIGEST}"}
    assert values(result, "loadtester")["image"]["tag"] == f"0.38.0@{DIGEST}"
    assert values(result, "gateway-helm")["global"]["images"]["envoyGateway"]["image"] == \
        f"docker.io/envoyproxy/gateway:v1.9.0@{DIGEST}"
    cert_manager = values(result, "cert-manager")
    for section in (cert_manager, *(cert_manager[k] for k in ("webhook", "cainjector", "acmesolver", "startupapicheck"))):
        assert section["image"]["tag"] == "v1.21.1" and section["image"]["digest"] == DIGEST
    proxy = next(d for d in manifests(result) if d["kind"] == "EnvoyProxy")
    assert proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"]["image"] == \
        f"docker.io/envoyproxy/envoy:distroless-v1.39.0@{DIGEST}"


@pytest.mark.parametrize("value, why", [
    ("quay.io/argoproj/argocd:latest", "not pinned"),
    (f"quay.io/argoproj/argocd@{DIGEST}", "has no tag"),
    ("quay.io/argoproj/argocd:v3.4.4@sha256:abc", "malformed digest"),
    ("quay.io/argoproj/argocd:v3.3.9", "argocdAppVersion is v3.4.4"),
])
def test_a_chart_image_must_name_its_release(run, base_config, value, why):
    base_config["versions"] = {"chartImageArgocd": value}
    errors = run(base_config).errors
    assert any(e.startswith("gitops-platform:versions") and why in e for e in errors), errors


def test_moving_the_argo_cd_release_moves_its_image(run, base_config):
    base_config["versions"] = {"argocdAppVersion": "v3.3.9", "argocdChartVersion": "10.0.0"}
    assert values(run(base_config), "argo-cd")["global"]["image"]["tag"] == "v3.3.9"
