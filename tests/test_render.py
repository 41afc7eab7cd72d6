"""The offline render: every stack in the repo renders, validates strictly and leaks no secret."""
from __future__ import annotations

import subprocess
import sys

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
