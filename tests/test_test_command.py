"""The test command itself: it never brings up a kind cluster (e2e only with `-m e2e`), and under CI's
GITOPS_REQUIRE_TOOLS=1 a test whose tool is missing fails instead of skipping."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stub_path(tmp_path: Path, tools: tuple[str, ...]) -> str:
    """A PATH where each of `tools` is a stub that records that it ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).write_text(f'#!/bin/sh\necho {tool} "$@" >> "{tmp_path}/ran.log"\nexit 0\n')
        (bin_dir / tool).chmod(0o755)
    return f"{bin_dir}:/usr/bin:/bin"


def pytest_run(args: list[str], path: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**{k: v for k, v in os.environ.items() if k != "GITOPS_REQUIRE_TOOLS"},
                               "PATH": path, **env})


def test_the_default_run_deselects_e2e_and_runs_no_tool_even_when_all_are_there(tmp_path):
    path = stub_path(tmp_path, ("docker", "kind", "pulumi", "kubectl", "git"))
    done = pytest_run(["-q", "tests/e2e"], path)
    assert "deselected" in done.stdout and "passed" not in done.stdout, done.stdout
    assert not (tmp_path / "ran.log").exists(), (tmp_path / "ran.log").read_text()


def test_e2e_runs_only_when_asked(tmp_path):
    path = stub_path(tmp_path, ("kind",))   # docker, pulumi... missing: the e2e module skips with the reason
    done = pytest_run(["-q", "-m", "e2e", "-rs", "tests/e2e"], path)
    assert "the e2e test needs docker" in done.stdout, done.stdout


def test_ci_fails_a_test_whose_tool_is_missing(tmp_path):
    path = str(tmp_path)   # nothing on PATH: no awk, no busybox
    relaxed = pytest_run(["-q", "tests/test_kustomize_images.py"], path)
    assert relaxed.returncode in (0, 5) and "1 skipped" in relaxed.stdout, relaxed.stdout   # 5: nothing ran
    strict = pytest_run(["-q", "tests/test_kustomize_images.py"], path, GITOPS_REQUIRE_TOOLS="1")
    assert strict.returncode not in (0, 5), strict.stdout
    assert "a tool CI requires is missing" in strict.stdout and "no awk installed" in strict.stdout
