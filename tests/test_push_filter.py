"""The EventListener's push filter and bindings, evaluated with cel-python on GitHub and Gitea push payloads
shaped as the servers send them: what builds, what never does, and what a payload can (not) choose.

GitHub: docs.github.com/en/webhooks/webhook-events-and-payloads#push (at most 2048 commits, no count).
Gitea: go-gitea/gitea modules/structs/hook.go PushPayload (`total_commits` counts every pushed commit,
`commits` is cut to [ui] FEED_MAX_COMMIT_NUM, 5 by default; a new branch lists at most 10).
"""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from components.tekton.triggers import cel_string, lower_ascii
from tests.harness.triggers import cel, pipeline_runs
from tools.mockrun import run_program

pytest.importorskip("celpy", reason="cel-python evaluates the EventListener's CEL filters (requirements-dev.txt)")

SECRET = "webhook-secret-for-the-filter-tests"
BOT = "Bøt-Ünïcode😀@Example.com"   # non-ASCII, upper-case ASCII, and a character outside the BMP
CONFIG = {
    "cluster": {"provider": "kind", "name": "gitops-test"},
    "configRepo": {"url": "https://github.com/org/gitops-config.git"},
    "tekton": {"gitUserEmail": BOT},
    "apps": [
        {"name": "web", "image": "ghcr.io/org/web", "sourceRepo": "https://github.com/org/shop.git",
         "build": {"paths": ["services/web/**"], "context": "services/web"}},
        {"name": "api", "image": "ghcr.io/org/api", "sourceRepo": "https://github.com/org/shop.git",
         "build": {"paths": ["services/api/**"], "context": "services/api"}},
    ],
}
SHA = "4f2a" + "0" * 35 + "1"


@pytest.fixture(scope="module")
def objects():
    result = run_program("dev", CONFIG, {"tektonWebhookSecret": SECRET, "argocdWebhookSecret": "a" * 32})
    assert result.errors == []
    return [r.manifest() for r in result.k8s_objects()
            if r.inputs["apiVersion"].startswith(("tekton.dev/", "triggers.tekton.dev/"))]


def commit(files: list[str], email: str = "dev@example.com") -> dict:
    return {"id": SHA, "message": "change", "url": "https://github.com/org/shop/commit/" + SHA,
            "author": {"name": "Dev", "email": email, "username": "dev"},
            "committer": {"name": "Dev", "email": email, "username": "dev"},
            "added": [], "removed": [], "modified": files}


def github_push(commits: list[dict], **extra) -> dict:
    return {"ref": "refs/heads/main", "before": "1" * 40, "after": SHA, "created": False, "deleted": False,
            "forced": False, "compare": "https://github.com/org/shop/compare/x...y",
            "repository": {"name": "shop", "full_name": "org/shop", "html_url": "https://github.com/org/shop",
                           "clone_url": "https://github.com/org/shop.git", "ssh_url": "git@github.com:org/shop.git"},
            "pusher": {"name": "dev", "email": "dev@example.com"}, "sender": {"login": "dev"},
            "head_commit": commits[-1] if commits else None, "commits": commits, **extra}


def gitea_push(commits: list[dict], total: int, **extra) -> dict:
    return {"ref": "refs/heads/main", "before": "1" * 40, "after": SHA,
            "compare_url": "http://gitea/org/shop/compare/x...y", "commits": commits, "total_commits": total,
            "head_commit": commits[0] if commits else None,
            "repository": {"id": 1, "name": "shop", "full_name": "org/shop", "html_url": "https://github.com/org/shop",
                           "clone_url": "https://github.com/org/shop.git"},
            "pusher": {"login": "dev", "email": "dev@example.com"}, "sender": {"login": "dev"}, **extra}


def runs(objects, body: dict) -> list[dict]:
    raw = json.dumps(body).encode()
    headers = {"X-GitHub-Event": "push", "X-Gitea-Event": "push",
               "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()}
    return pipeline_runs(objects, headers, raw, {("github-webhook", "secretToken"): SECRET})


def built(objects, body: dict) -> list[str]:
    return sorted(run["trigger"] for run in runs(objects, body))


def params(run: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in run["spec"]["params"]}


# ---------------------------------------------------------------- string encoding
@pytest.mark.parametrize("value", ["plain", 'quo"te\\back', "Ø ø İ ß", "😀 outside the BMP", "\u2028", "tab\there"])
def test_cel_strings_decode_to_exactly_the_value(value):
    assert bool(cel(f"{cel_string(value)} == body.v", {"v": value})) is True
    assert cel_string(value).isascii()


def test_lower_ascii_is_cels_lower_ascii():
    assert lower_ascii(BOT) == "bøt-Ünïcode😀@example.com"
    assert cel("body.v.lowerAscii()", {"v": BOT}) == lower_ascii(BOT)


# ---------------------------------------------------------------- the bot's own commits
def test_the_bots_commits_never_build_whatever_its_address_holds(objects):
    for email in (BOT, "BøT-Ünïcode😀@EXAMPLE.COM", "bøt-Ünïcode😀@example.COM"):
        assert built(objects, github_push([commit(["services/web/x"], email)])) == []
    # Python's lower() would also lower 'Ü': CEL's lowerAscii does not, so this is someone else
    assert built(objects, github_push([commit(["services/web/x"], "bøt-ünïcode😀@example.com")])) == ["web"]
    assert built(objects, github_push([commit(["services/web/x"])])) == ["web"]


# ---------------------------------------------------------------- truncated payloads
def test_a_gitea_push_cut_to_five_commits_builds_every_app_of_the_repo(objects):
    listed = [commit(["README.md"]) for _ in range(5)]   # the web change was in the 6th or 7th commit
    assert built(objects, gitea_push(listed, total=7)) == ["api", "web"]
    assert built(objects, gitea_push(listed, total=5)) == []   # complete list: judged by its files


def test_a_github_push_at_its_2048_commit_limit_builds(objects):
    assert built(objects, github_push([commit(["README.md"])] * 2048)) == ["api", "web"]
    assert built(objects, github_push([commit(["README.md"])] * 2047)) == []
    assert built(objects, github_push([commit(["README.md"])], size=3)) == ["api", "web"]   # Events API form


def test_a_new_branch_builds_and_a_truncated_push_of_only_bot_commits_does_not(objects):
    assert built(objects, github_push([commit(["README.md"])], before="0" * 40, created=True)) == ["api", "web"]
    assert built(objects, gitea_push([commit(["README.md"], BOT)] * 5, total=9)) == []


# ---------------------------------------------------------------- what a payload may choose
def test_the_clone_url_is_the_configured_one_whatever_the_payload_says(objects):
    body = github_push([commit(["services/web/main.go"])])
    body["repository"]["clone_url"] = "https://attacker.example/evil.git"
    [run] = runs(objects, body)
    assert params(run)["source-url"] == "https://github.com/org/shop.git"
    assert params(run)["source-revision"] == SHA and params(run)["source-branch"] == "main"
    assert params(run)["context"] == "services/web"


@pytest.mark.parametrize("field, value", [
    ("after", "$(params.config-url)"), ("after", "main"), ("after", SHA.upper()), ("after", SHA + "0"),
    ("ref", "refs/heads/$(params.image)"), ("ref", "refs/heads/a b"), ("ref", "refs/tags/v1.0.0"),
    ("ref", "refs/heads/`id`"),
])
def test_a_malformed_revision_or_branch_starts_nothing(objects, field, value):
    body = github_push([commit(["services/web/main.go"])])
    body[field] = value
    assert built(objects, body) == []


def test_sha256_repositories_and_branch_names_with_slashes_build(objects):
    body = github_push([commit(["services/web/main.go"])], after="a" * 64, ref="refs/heads/feature/x-1.2_b")
    [run] = runs(objects, body)
    assert params(run)["source-revision"] == "a" * 64 and params(run)["source-branch"] == "feature/x-1.2_b"
