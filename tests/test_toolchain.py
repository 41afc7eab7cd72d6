"""The pinned toolchain: each tool is the version the platform runs, built from its Go module, cached by
version, and the update bot reads every pin."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from components.toolchain import TOOLS, Pins
from tools.mockrun import ROOT


def test_the_update_bot_reads_every_toolchain_pin():
    config = json.loads((ROOT / "renovate.json").read_text())
    [manager] = [m for m in config["customManagers"] if "toolchain" in m["managerFilePatterns"][0]]
    pattern = re.compile(manager["matchStrings"][0].replace("(?<", "(?P<"))
    text = (ROOT / "components" / "toolchain.py").read_text()
    found = {re.search(r"\n\s+(\w+): str =", m.group(0)).group(1): m.group("currentValue") for m in pattern.finditer(text)}
    pins = {k: v for k, v in vars(Pins).items() if not k.startswith("_")}
    assert found == pins                      # every pin has its renovate comment
    assert {t.version for t in TOOLS} == set(pins.values())
    assert {t.name: t.version for t in TOOLS if t.group == "tools"} == {
        "kustomize": Pins.kustomize, "yq": Pins.yq, "helm": Pins.helm, "git-init": Pins.git_init}
    assert {t.name: t.version for t in TOOLS if t.group == "cluster"} == {
        "etcd": Pins.etcd, "kube-apiserver": Pins.kubernetes, "kube-controller-manager": Pins.kubernetes,
        "kube-scheduler": Pins.kubernetes, "kubectl": Pins.kubernetes, "kwok": Pins.kwok,
        "pulumi": Pins.pulumi, "pulumi-resource-kubernetes": Pins.pulumi_kubernetes}


@pytest.mark.parametrize("name", [t.name for t in TOOLS if t.required and t.group == "tools"])
def test_each_built_tool_reports_its_pinned_version(name, request):
    from tests.conftest import toolchain_binary
    tool = next(t for t in TOOLS if t.name == name)
    done = subprocess.run([toolchain_binary(name), *tool.version_args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert tool.version in done.stdout, done.stdout


def test_a_version_the_proxy_does_not_serve_is_reported_with_its_answer(tmp_path):
    from tools.toolchain import BuildError, build
    if shutil.which("go") is None:
        pytest.skip("go is not on PATH (the toolchain is built from Go modules)")
    missing = replace(next(t for t in TOOLS if t.name == "yq"), version="v4.999.0")
    with pytest.raises(BuildError) as failed:
        build(missing, root=tmp_path / "toolchain")
    assert "go install github.com/mikefarah/yq/v4@v4.999.0 failed" in str(failed.value)
    assert "v4.999.0" in str(failed.value).split("failed:", 1)[1]   # go's own answer follows
    assert not (tmp_path / "toolchain" / "yq-v4.999.0").exists()


def test_git_init_is_tried_and_reported_with_the_proxys_answer(capsys):
    from tools.toolchain import main
    if shutil.which("go") is None:
        pytest.skip("go is not on PATH (the toolchain is built from Go modules)")
    assert main(["--only", "git-init", "--json"]) == 0      # optional: reported, not fatal
    report = json.loads(capsys.readouterr().out)["git-init"]
    # If the proxy ever serves it, this fails: then run the harness's clone with it instead of the stand-in.
    assert report["path"] is None and "does not contain package" in report["error"], report


def test_the_cluster_tools_report_their_versions_where_built():
    """The simulated cluster's binaries (built by `--group cluster`) report the pinned versions, the API server
    its real gitVersion from the release ldflags."""
    from tools.toolchain import locate
    for tool in [t for t in TOOLS if t.group == "cluster"]:
        path = locate(tool.name)
        if path is None:
            continue
        if not tool.version_args:
            # No version flag (the provider serves gRPC when started): its build info keeps the stamping ldflags.
            go = shutil.which("go")
            assert go, "go is needed to read a built tool's build info"
            done = subprocess.run([go, "version", "-m", str(path)], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            # -trimpath leaves the ldflags out of the build info: check the module it was built from, at the
            # version the wrapper's go.mod pins (for the provider, the commit of tag v4.25.0).
            from tools.toolchain import GOMOD
            module = tool.embeds[0][0]
            pinned = next(line.split()[-1] for line in (GOMOD / tool.module / "go.mod").read_text().splitlines()
                          if line.strip().startswith(("require " + module + " ", module + " ")))
            assert f"dep\t{module}\t{pinned}" in done.stdout, (tool.name, pinned)
            continue
        done = subprocess.run([str(path), *tool.version_args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert tool.version.lstrip("v") in done.stdout, (tool.name, done.stdout)
        if tool.name == "kube-apiserver":
            assert done.stdout.strip() == f"Kubernetes {tool.version}"


def test_wrapper_modules_are_committed_with_their_sums():
    from tools.toolchain import GOMOD
    for module in {t.module for t in TOOLS if t.module}:
        text = (GOMOD / module / "go.mod").read_text()
        assert (GOMOD / module / "go.sum").stat().st_size > 1000
        tool = next(t for t in TOOLS if t.module == module)
        if tool.package.startswith("./"):   # a main of the wrapper's own, on a dependency at a tag's commit
            assert f"= tag {tool.version} " in text
            continue
        assert f"{tool.package.split('/cmd/')[0] if '/cmd/' in tool.package else tool.package} {tool.version}" in text
