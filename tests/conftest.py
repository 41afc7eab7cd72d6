"""Shared fixtures: running the real program under mocks is one line in a test.

    def test_something(run, base_config):
        result = run(base_config, stack="prod")
        app = result.find("Application", "person-service", "argocd")
"""
from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.mockrun import ROOT, RunResult, run_program, run_stack
from tools.render import to_yaml

SHARED = ROOT.parent / "shared"
VALIDATOR = SHARED / "tools" / "validate-manifests"
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))

BASE_CONFIG = {
    "cluster": {"provider": "kind", "name": "gitops-test"},
    "configRepo": {"url": "https://github.com/org/gitops-config.git", "revision": "main", "username": "ci-bot"},
    "registry": {"server": "quay.io", "username": "ci-bot"},
    "apps": [
        {"name": "person-service", "namespace": "book-dev", "path": "config/overlays/dev",
         "image": "quay.io/org/person-service", "sourceRepo": "https://github.com/org/person-service.git"},
        {"name": "web", "image": "ghcr.io/org/web", "sourceRepo": "https://github.com/org/web.git"},
    ],
}
# Known secret values: tests prove none of them ever appears outside a Pulumi secret.
SECRETS = {
    "gitToken": "ghp_known_git_token_value_123456",
    "registryPassword": "known-registry-password-987654",
}


@pytest.fixture
def base_config() -> dict:
    return copy.deepcopy(BASE_CONFIG)


@pytest.fixture
def secrets() -> dict:
    return dict(SECRETS)


@pytest.fixture
def run():
    """run(config, stack="dev", secrets=SECRETS) -> RunResult of the real program under mocks."""
    def _run(config: dict, stack: str = "dev", secrets: dict | None = None) -> RunResult:
        return run_program(stack, config, SECRETS if secrets is None else secrets)
    return _run


_stack_cache: dict[str, RunResult] = {}


@pytest.fixture(params=STACKS)
def stack_result(request) -> tuple[str, RunResult]:
    """(stack name, result) for every Pulumi.<stack>.yaml in the repo (rendered once per session)."""
    if request.param not in _stack_cache:
        _stack_cache[request.param] = run_stack(request.param)
    return request.param, _stack_cache[request.param]


def validate(docs: list[dict], tmp_path: Path) -> subprocess.CompletedProcess:
    """Validate `docs` strictly: with ../shared/tools/validate-manifests when ../shared is beside the repo,
    else with tools/validate.py and the schema set in $GITOPS_SCHEMAS (`python -m tools.schemas` builds it
    for the pinned versions, as .ci/run does on GitHub); skip when neither is there."""
    path = tmp_path / "render.yaml"
    path.write_text(to_yaml(docs))
    if VALIDATOR.exists():
        return subprocess.run([sys.executable, str(VALIDATOR), str(path)], capture_output=True, text=True)
    schemas = os.environ.get("GITOPS_SCHEMAS")
    if schemas and (Path(schemas) / "INDEX.json").exists():
        return subprocess.run([sys.executable, "-m", "tools.validate", "--schemas", schemas, str(path)],
                              capture_output=True, text=True, cwd=ROOT)
    pytest.skip(f"strict schema validation needs {VALIDATOR} or a schema set in $GITOPS_SCHEMAS "
                "(python -m tools.schemas --out DIR); neither is here")


@pytest.fixture
def validate_docs(tmp_path):
    def _validate(docs):
        done = validate(docs, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        return done
    return _validate



# ---------------------------------------------------------------- CI: a missing tool fails, never skips
# `.ci/run` installs every tool the tests use and sets GITOPS_REQUIRE_TOOLS=1; then a test that would skip
# because a tool is missing fails instead, so CI cannot stay green while the step-script tests skip. Other
# skips stay skips: no ../shared beside the repo, no root to run steps as their users, a shallow clone, e2e.
TOOL_MISSING = re.compile(r"is not installed|not on PATH|are needed|no \w+ installed")


def _required_tool_missing(report) -> str | None:
    if os.environ.get("GITOPS_REQUIRE_TOOLS") != "1" or not report.skipped:
        return None
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason if TOOL_MISSING.search(reason) else None


def _fail(report, reason: str) -> None:
    report.outcome = "failed"
    report.longrepr = f"a tool CI requires is missing (GITOPS_REQUIRE_TOOLS=1): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    reason = _required_tool_missing(report)
    if reason and "e2e" not in item.keywords:
        _fail(report, reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    reason = _required_tool_missing(report)
    if reason and "/e2e/" not in str(getattr(collector, "path", "")):
        _fail(report, reason)


# ---------------------------------------------------------------- the pinned toolchain (tools/toolchain.py)
def toolchain_binary(name: str) -> str:
    """The pinned tool `name`, built from its Go module if not cached; skip only where there is no Go."""
    import shutil

    from components.toolchain import TOOLS
    from tools.toolchain import BuildError, build, locate
    cached = locate(name)
    if cached is not None:
        return str(cached)
    if shutil.which("go") is None:
        pytest.skip(f"{name} is built from its Go module and go is not on PATH (python -m tools.toolchain)")
    try:
        path, _ = build(next(t for t in TOOLS if t.name == name))
    except BuildError as err:
        pytest.fail(str(err))
    return str(path)


@pytest.fixture(scope="session")
def kustomize() -> str:
    return toolchain_binary("kustomize")


@pytest.fixture(scope="session")
def yq() -> str:
    return toolchain_binary("yq")
