"""The render's chart expansion (tools/charts.py) with the real Helm engine at the pinned charts."""
from __future__ import annotations

import pytest

from tests.conftest import SHARED, toolchain_binary
from tools.charts import FROM, expand

CHARTS = SHARED / "mirror" / "charts"


def test_every_release_of_the_dev_stack_expands_and_no_node_port_is_taken_twice(stack_result):
    stack, result = stack_result
    if not CHARTS.exists():
        pytest.skip("../shared/mirror/charts is not beside the repo (../shared absent)")
    docs = expand(result, CHARTS, toolchain_binary("helm"))
    origins = {d["metadata"]["annotations"][FROM].split(" ")[0] for d in docs}
    assert "argocd/argocd" in origins and "envoy-gateway-system/eg" in origins
    ports = [p["nodePort"] for d in docs if d["kind"] == "Service" for p in d["spec"].get("ports", []) if "nodePort" in p]
    assert len(ports) == len(set(ports)), ports
    images = [c["image"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")
              for c in d["spec"]["template"]["spec"]["containers"]]
    assert "quay.io/argoproj/argocd:v3.4.4" in images   # the versions table's chart image, as the chart renders it


# ---------------------------------------------------------------- chart and release sources
@pytest.fixture
def mirror_url():
    """../shared/mirror served over HTTP on 127.0.0.1, as a user's chart and release mirror."""
    import functools
    import http.server
    import threading
    if not CHARTS.exists():
        pytest.skip("../shared/mirror/charts is not beside the repo (../shared absent)")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(CHARTS.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_chart_repository_url_and_a_release_mirror_url_give_what_the_directories_give(mirror_url):
    from tools.charts import expand_release
    from tools.expand import read_release
    from tools.mockrun import run_stack
    result = run_stack("dev")
    helm = toolchain_binary("helm")
    for reg in [r for r in result.resources if r.type == "kubernetes:helm.sh/v3:Release"][:2]:
        assert expand_release(helm, f"{mirror_url}/charts", reg) == expand_release(helm, CHARTS, reg), reg.name
    [pipelines] = [r for r in result.resources if r.name == "gitops-tekton-pipelines"]
    url = pipelines.inputs["file"]
    assert read_release(url, f"{mirror_url}/releases") == read_release(url, str(CHARTS.parent / "releases"))
    assert "kind: Deployment" in read_release(url, f"{mirror_url}/releases")


def test_a_chart_missing_from_the_source_names_what_was_expected(tmp_path, stack_result):
    from tools.charts import ChartError, expand_release
    _, result = stack_result
    reg = next(r for r in result.resources if r.type == "kubernetes:helm.sh/v3:Release")
    with pytest.raises(ChartError, match=rf"is not in {tmp_path} \(expected {reg.inputs['chart']}-"):
        expand_release("helm", tmp_path, reg)


def test_the_render_cli_expands_and_checks_policy(tmp_path):
    import subprocess
    import sys

    import yaml

    from tools.mockrun import ROOT
    if not CHARTS.exists():
        pytest.skip("../shared/mirror/charts is not beside the repo (../shared absent)")
    toolchain_binary("helm")
    done = subprocess.run([sys.executable, "-m", "tools.render", "--stack", "prod", "--charts", str(CHARTS), "--policy",
                           "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "policy: no violations over" in done.stderr and "objects expanded from 7 releases" in done.stderr
    docs = [yaml.safe_load(p.read_text()) for p in sorted((tmp_path / "out").glob("*.yaml"))]
    origins = {d["metadata"].get("annotations", {}).get(FROM, "").split(" ")[0] for d in docs}
    assert {"argocd/argocd", "gitops-tekton-pipelines", "envoy-gateway-system/eg"} <= origins
    # The chart's Secret holds the webhook secrets the program passes as Pulumi secrets: masked, never the value.
    import base64
    [secret] = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "argocd-secret"]
    assert secret["data"] and {base64.b64decode(v).decode() for v in secret["data"].values()} == {"[secret]"}
