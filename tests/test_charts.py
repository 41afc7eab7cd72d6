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
