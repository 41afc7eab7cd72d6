"""The offline render: every stack in the repo renders, validates strictly and leaks no secret."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, STACKS
from tools.mockrun import load_stack_file, run_program
from tools.render import manifests, to_yaml


def test_repo_has_the_three_environment_stacks():
    assert {"dev", "staging", "prod"} <= set(STACKS)


def test_every_stack_renders_objects_that_pass_strict_validation(stack_result, validate_docs):
    stack, result = stack_result
    assert result.errors == []
    docs = manifests(result)
    assert docs, f"{stack} rendered nothing"
    validate_docs(docs)


def test_render_masks_every_secret_value(stack_result):
    stack, result = stack_result
    _, secrets = load_stack_file(stack)
    text = to_yaml(manifests(result))
    for value in secrets.values():
        assert value not in text
    for reg in result.k8s_objects():
        for path in reg.secret_paths:
            assert path.split(".")[0] in reg.inputs  # the secret field is rendered, masked


def test_render_order_is_stable(base_config):
    first = to_yaml(manifests(run_program("dev", base_config)))
    second = to_yaml(manifests(run_program("dev", base_config)))
    assert first == second
    kinds = [d["kind"] for d in yaml.safe_load_all(first)]
    assert kinds[0] == "Namespace"


def _render(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tools.render", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_render_cli_writes_yaml_to_stdout_and_a_summary_to_stderr():
    done = _render("--stack", "dev")
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert any(d["kind"] == "Namespace" for d in docs)
    assert "Kubernetes objects" in done.stderr
    assert "command:local:Command" in done.stderr


def test_render_cli_writes_one_file_per_object(tmp_path):
    done = _render("--stack", "dev", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "out").glob("*.yaml"))
    assert files and all(len([d for d in yaml.safe_load_all(f.read_text()) if d]) == 1 for f in files)


def test_render_cli_reports_bad_config_per_key_without_traceback(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.broken.yaml").write_text(
        "config:\n"
        "  gitops-platform:environment: dev\n"
        "  gitops-platform:configRepo: {url: https://github.com/org/cfg.git}\n"
        "  gitops-platform:apps:\n"
        "    - {name: a, image: quay.io/org/a}\n"
        "    - {name: b, image: quay.io/org/b, namespace: Book_Dev}\n")
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    done = _render("--stack", "broken", "--root", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines()[0].startswith(
        "gitops-platform:apps[1].namespace: 'Book_Dev' is not a valid Kubernetes namespace name")
    assert "Traceback" not in done.stderr


def test_secure_values_in_a_stack_file_count_as_set_secrets(tmp_path):
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  gitops-platform:gitToken:\n    secure: v1:abc\n  gitops-platform:apps: []\n")
    config, secrets = load_stack_file("s", tmp_path)
    assert "gitToken" in secrets and "gitToken" not in config


def _stack_dir(tmp_path, name: str, body: str | bytes):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return tmp_path


GOOD = ("config:\n  gitops-platform:environment: dev\n"
        "  gitops-platform:configRepo: {url: https://github.com/org/cfg.git}\n"
        "  gitops-platform:apps:\n    - {name: a, image: quay.io/org/a, sourceRepo: https://github.com/org/a.git}\n")


@pytest.mark.parametrize("body, line", [
    (GOOD + "  gitops-platform:environment: prod\n",
     "Pulumi.bad.yaml:6: mapping key 'gitops-platform:environment' is already defined at line 2"),
    (GOOD.encode() + b"  gitops-platform:protect: \xff\n", "Pulumi.bad.yaml:6: is not valid UTF-8 (byte 0xff)"),
    (GOOD + "  gitops-platform:protect: \x07\n", "Pulumi.bad.yaml:6: contains the raw control character '\\x07'"),
    ("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
     "config: {}\n", "Pulumi.bad.yaml: the document contains excessive aliasing"),
], ids=["duplicate key", "not utf-8", "control character", "alias bomb"])
def test_the_render_refuses_a_stack_file_the_pulumi_cli_refuses(tmp_path, body, line):
    import time
    start = time.monotonic()
    done = _render("--stack", "bad", "--root", str(_stack_dir(tmp_path, "bad", body)))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(line), done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - start < 30   # an alias bomb is refused before it is expanded


def test_yaml_1_1_booleans_are_strings_as_the_cli_reads_them(tmp_path):
    body = GOOD + "  gitops-platform:cluster: {kind: {workers: on}}\n"
    done = _render("--stack", "bad", "--root", str(_stack_dir(tmp_path, "bad", body)))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "gitops-platform:cluster.kind.workers: must be a whole number, got str 'on'"


def test_warnings_the_program_logs_reach_the_renders_stderr(tmp_path):
    done = _render("--stack", "ok", "--root", str(_stack_dir(tmp_path, "ok", GOOD)))
    assert done.returncode == 0, done.stderr
    assert "warning: gitops-platform:gitToken is not set: gitops-ci and stage-release cannot push" in done.stderr


def test_helm_values_are_written_per_release_with_secrets_masked(tmp_path):
    out = tmp_path / "values"
    done = _render("--stack", "dev", "--helm-values", str(out), "--out", str(tmp_path / "objects"))
    assert done.returncode == 0, done.stderr
    values = yaml.safe_load((out / "argocd.yaml").read_text())
    assert values["configs"]["secret"]["githubSecret"] == "[secret]"
    assert values["controller"]["clusterRoleRules"]["enabled"] is True
    assert (out / "argocd.yaml").read_text().startswith("# argo-cd 10.1.1 from https://argoproj.github.io/argo-helm")


def test_out_never_mixes_stacks(tmp_path):
    out = tmp_path / "out"
    assert _render("--stack", "staging", "--out", str(out)).returncode == 0
    staging = {p.name for p in out.glob("*.yaml")}
    assert _render("--stack", "prod", "--out", str(out)).returncode == 0
    prod = {p.name for p in out.glob("*.yaml")}
    assert not any("book-stage" in name for name in prod) and any("book-stage" in name for name in staging)
    (out / "notes.txt").write_text("mine")
    done = _render("--stack", "dev", "--out", str(out))
    assert done.returncode == 2 and "holds files the render did not write" in done.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.yaml").write_text("kind: Mine\n")
    done = _render("--stack", "dev", "--out", str(foreign))
    assert done.returncode == 2 and "was not written by the render" in done.stderr
    assert (foreign / "x.yaml").read_text() == "kind: Mine\n"


def test_the_render_shuts_down_cleanly(tmp_path):
    # Under Python's development mode every unclosed event loop, task destroyed pending or exception never
    # retrieved is reported on stderr: none may be left.
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "ignore::DeprecationWarning", "-m", "tools.render",
                           "--stack", "staging", "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for bad in ("Traceback", "ResourceWarning", "Task was destroyed", "never retrieved", "Exception ignored"):
        assert bad not in done.stderr, done.stderr
