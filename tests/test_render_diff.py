"""The PR comment's render diff, run for real against an older commit of this repository."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tools import render_diff
from tools.mockrun import ROOT

# "Docs: component deep dives move to docs/": before the Gateway, the canaries' Prometheus and the
# embedded Git server. Its dev stack used a GitHub config repo; today's is the embedded default.
OLD = "f221879"


def have(ref: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{ref}^{{commit}}"], cwd=ROOT, capture_output=True).returncode == 0


needs_history = pytest.mark.skipif(not (ROOT / ".git").exists() or not have(OLD),
                                   reason=f"needs this repository's git history (commit {OLD}; a shallow clone lacks it)")


@needs_history
def test_the_diff_against_an_older_commit_names_every_object_that_changed():
    diffs, text = render_diff.run(OLD, None, sys.executable)
    by_stack = {d.stack: d for d in diffs}
    assert set(by_stack) == {"dev", "staging", "prod"}
    dev = by_stack["dev"]
    assert "gateway.networking.k8s.io/v1 Gateway gateway-system/gitops-gateway" in dev.added
    assert "apps/v1 Deployment gitea/gitea" in dev.added
    assert "kubernetes:helm.sh/v4:Chart gitops-gateway-crds" in dev.added
    assert not dev.errors
    staging = by_stack["staging"]
    assert "flagger.app/v1beta1 MetricTemplate book-stage/person-service-error-rate" in staging.added
    changed = staging.changed["flagger.app/v1beta1 Canary book-stage/person-service"]
    assert any(line.startswith("+") and "gatewayRefs" in line for line in changed)
    assert "### Offline render: `f221879`" in text and "**staging**:" in text
    # nothing the render masks can leak: no generated value of the mocks appears
    from tools.mockrun import FAKE_GENERATED
    assert FAKE_GENERATED not in text


@needs_history
def test_no_change_between_a_commit_and_itself():
    diffs, text = render_diff.run(OLD, OLD, sys.executable)
    assert all(d.empty for d in diffs)
    assert text.count("no change") == 3


def test_a_stack_that_does_not_render_is_reported_with_its_errors():
    base = render_diff.Render(objects={"v1 Namespace a": "x\n"})
    head = render_diff.Render(errors=["gitops-platform:apps[0].name: bad"])
    d = render_diff.diff("dev", base, head)
    assert d.removed == ["v1 Namespace a"] and d.errors == {"head": ["gitops-platform:apps[0].name: bad"]}
    assert "- does not render at head:" in render_diff.markdown([d], "a", "b")
