"""Config validation: every bad input stops before any resource, one line per problem, exact key."""
from __future__ import annotations

import copy

import pytest

from components.config import ConfigError, load_config

VALID = {
    "configRepo": {"url": "https://github.com/org/gitops-config.git"},
    "apps": [{"name": "person-service", "namespace": "book-dev", "image": "quay.io/org/person-service"},
             {"name": "web", "image": "ghcr.io/org/web"}],
}


def errors_for(patch, stack="dev") -> list[str]:
    data = copy.deepcopy(VALID)
    patch(data)
    with pytest.raises(ConfigError) as caught:
        load_config(data, stack)
    return caught.value.lines


def test_defaults_fill_everything_but_repo_and_apps():
    cfg = load_config(VALID, "dev")
    assert cfg.environment == "dev"
    assert cfg.cluster.provider == "kind" and cfg.cluster_name == "gitops-dev"
    assert cfg.cluster.kind.workers == 2 and cfg.cluster.kind.argocd_host_port == 8080
    assert cfg.config_repo.revision == "main"
    assert cfg.namespace_of(cfg.apps[1]) == "web-dev"
    assert cfg.path_of(cfg.apps[1]) == "web/overlays/dev"
    assert cfg.sync_of(cfg.apps[0]) == "auto"
    assert cfg.features.tekton and cfg.features.flux and cfg.features.flagger


def test_prod_defaults_to_manual_sync_and_a_sync_window():
    cfg = load_config(VALID, "prod")
    assert [cfg.sync_of(a) for a in cfg.apps] == ["manual", "manual"]
    assert cfg.sync_windows[0].schedule == "0 8 * * 1-5" and cfg.sync_windows[0].manual_sync
    assert cfg.protected


def test_environment_key_overrides_stack_name():
    cfg = load_config({**VALID, "environment": "staging"}, "team-a")
    assert cfg.environment == "staging" and cfg.cluster_name == "gitops-staging"


def test_stack_not_named_after_an_environment_needs_the_key():
    with pytest.raises(ConfigError) as caught:
        load_config(VALID, "team-a")
    assert caught.value.lines[0].startswith("gitops-platform:environment: is required")


@pytest.mark.parametrize("patch, expected", [
    (lambda d: d["apps"][1].update(namespace="Book_Dev"),
     "gitops-platform:apps[1].namespace: 'Book_Dev' is not a valid Kubernetes namespace name"),
    (lambda d: d["apps"][0].update(name="Person.Service"),
     "gitops-platform:apps[0].name: 'Person.Service' is not a valid Kubernetes app name"),
    (lambda d: d.update(clustr={}),
     "gitops-platform:clustr: unknown key"),
    (lambda d: d["apps"][0].update(replicas=3),
     "gitops-platform:apps[0].replicas: unknown key"),
    (lambda d: d.update(cluster={"provider": "gke"}),
     "gitops-platform:cluster.provider: 'gke' is not one of 'kind', 'eks' or 'existing'"),
    (lambda d: d.update(cluster={"kind": {"workers": "two"}}),
     "gitops-platform:cluster.kind.workers: must be a whole number, got str 'two'"),
    (lambda d: d.update(cluster={"kind": {"workers": True}}),   # YAML 1.1's `on`/`yes`: never a number
     "gitops-platform:cluster.kind.workers: must be a whole number, got bool True"),
    (lambda d: d.update(cluster={"kind": {"workers": 2.0}}),
     "gitops-platform:cluster.kind.workers: must be a whole number, got float 2.0"),
    (lambda d: d["apps"][1].update(sync="sometimes"),
     "gitops-platform:apps[1].sync: 'sometimes' is not one of 'auto' or 'manual'"),
    (lambda d: d["apps"].append({"name": "web", "image": "ghcr.io/org/web2"}),
     "gitops-platform:apps[2].name: duplicate app name 'web' (also apps[1])"),
    (lambda d: d.update(configRepo={"url": "../gitops-config"}),
     "gitops-platform:configRepo.url: '../gitops-config' is not an https://, ssh:// or git@host:path URL"),
    (lambda d: d.update(configRepo={"url": "ftp://example.com/repo.git"}),
     "gitops-platform:configRepo.url: 'ftp://example.com/repo.git' must be a URL starting with https://"),
    (lambda d: d["apps"][0].update(sourceRepo="github.com/org/app"),
     "gitops-platform:apps[0].sourceRepo: 'github.com/org/app' is not an https://, ssh:// or git@host:path URL"),
    (lambda d: d.update(cluster={"provider": "eks"}),
     "gitops-platform:cluster.eks.region: is required when provider is eks"),
    (lambda d: d["apps"][0].update(path="config/../../secrets"),
     "gitops-platform:apps[0].path: 'config/../../secrets' escapes the repo with '..'"),
    (lambda d: (d.pop("configRepo"), d.update(cluster={"provider": "existing"})),
     "gitops-platform:configRepo: is required (the embedded Git server is for kind clusters only)"),
    (lambda d: d.pop("apps"), "gitops-platform:apps: is required"),
])
def test_bad_config_names_the_exact_key(patch, expected):
    lines = errors_for(patch)
    assert any(line.startswith(expected) for line in lines), lines


def test_every_problem_gets_its_own_line():
    def patch(d):
        d["apps"][0]["namespace"] = "Bad_NS"
        d["apps"][1]["sync"] = "never"
        d["typo"] = 1
    lines = errors_for(patch)
    assert len(lines) == 3
    assert all(line.startswith("gitops-platform:") for line in lines)


def test_the_config_package_imports_nothing_above_it():
    """components/config is the bottom layer: reading a stack never imports the components it configures
    (it used to import PlatformSecrets from components/platform.py)."""
    import ast
    from pathlib import Path
    allowed = ("components.config", "components.grammars", "components.urls", "components.versions")
    for module in sorted((Path(__file__).resolve().parent.parent / "components" / "config").glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components"):
                assert node.module.startswith(allowed), f"{module.name} imports {node.module}"
