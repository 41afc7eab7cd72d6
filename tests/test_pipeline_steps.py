"""The pipelines' step scripts, run for real: the Tasks and Pipelines exactly as the program emits them,
executed by the harness (tests/harness) as a cluster would run them, against a git server that demands
auth, a GitHub-like pulls API, Argo CD's webhook, the Kubernetes API and a registry, all on 127.0.0.1.

Needs git, busybox (alpine's sh and awk), skopeo and openssl (`.ci/run` installs them), and root for the
scenarios about file ownership; each test skips with the reason when its tool is missing.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from tests.harness.apis import PullsApi
from tests.harness.tekton import Harness, block_storage_volume, kubelet_fs_group
from tests.harness.world import BOT_EMAIL, KUSTOMIZATION, OVERLAY, World, base_config

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (apt-get install git)"),
    pytest.mark.skipif(shutil.which("busybox") is None,
                       reason="busybox is not installed: the steps' sh and awk are alpine's busybox (apt-get install busybox)"),
]
pytest.importorskip("celpy", reason="cel-python evaluates the EventListener's CEL filters (requirements-dev.txt)")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="running steps as their own users (65532) needs root")
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (apt-get install skopeo)")

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
OLD = {"GIT_COMMITTER_DATE": "2026-11-30T10:00:00+00:00", "GIT_AUTHOR_DATE": "2026-11-30T10:00:00+00:00"}
NEW = {"GIT_COMMITTER_DATE": "2026-11-30T11:00:00+00:00", "GIT_AUTHOR_DATE": "2026-11-30T11:00:00+00:00"}


@pytest.fixture
def world():
    worlds = []

    def make(**kwargs) -> World:
        made = World(**kwargs)
        worlds.append(made)
        return made
    yield make
    for made in worlds:
        made.close()


def build(world: World, files: dict[str, str | None], author: dict | None = None, **run_kwargs):
    headers, raw = world.push_event(files, "change", author=author)
    runs = world.runs_for(headers, raw)
    assert len(runs) == 1, runs
    return world.run(runs[0], **run_kwargs)


def overlay_with(digest: str, source: str, time: int, tag: str = '"0000000"') -> str:
    # An all-digit tag is quoted, as the pipeline writes it: kustomize refuses a number in newTag.
    return KUSTOMIZATION.replace("    newTag: bootstrap\n",
                                 f"    newTag: {tag}\n    digest: {digest}  # gitops-platform: source {source} {time}\n")


# ---------------------------------------------------------------- the happy path
def test_a_push_builds_deploys_the_digest_tells_argocd_and_waits(world):
    w = world()
    out = build(w, {"app": "v2\n"})
    assert out.status == "Succeeded", out.text
    digest = w.built[0]["digest"]
    overlay = w.overlay()
    assert f"    digest: {digest}  # gitops-platform: source " in overlay
    # the tag is the short source SHA, quoted when it is all digits (YAML would read a number)
    [entry] = yaml.safe_load(overlay)["images"]
    assert entry["newTag"] == out.results["version"] and isinstance(entry["newTag"], str)
    # What Argo CD renders from it (the real kustomize, objects validated strictly) runs exactly that build.
    assert w.built_image() == f"{w.image}:{out.results['version']}@{digest}"
    # Every step ran its own script with its image's tools, except the two remote catalog tasks, whose binaries
    # cannot run here (git-init: not servable by the Go proxy; the kaniko executor: needs a container runtime).
    stood_in = {(s.task, s.note.split(" (", 1)[0]) for s in out.logs if "stand-in" in s.note}
    assert stood_in == {("clone-source", "stand-in for the remote task git-clone"),
                        ("clone-config", "stand-in for the remote task git-clone"),
                        ("build-and-push", "stand-in for the remote task kaniko")}, stood_in
    assert all(s.returncode == 0 for s in out.logs), out.text
    message = w.server.log("org/gitops-config.git", fmt="%B", ref="main").split("\n")
    assert f"Image: {w.image}:{out.results['version']}@{digest}" in message
    assert any(line.startswith("Source-Commit: ") for line in message)
    assert "Tekton-PipelineRun: gitops-ci/person-service-ci-x1y2z" in message
    assert out.results["config-commit"] == w.server.head("org/gitops-config.git")
    [event] = w.argocd.requests   # signed with the secret Argo CD trusts (the stand-in checks the HMAC)
    assert event.json()["after"] == out.results["config-commit"]
    assert event.json()["commits"][0]["modified"] == [f"{OVERLAY}/kustomization.yaml"]
    assert event.json()["repository"]["html_url"] == "https://github.com/org/gitops-config"
    assert out.tasks["wait-for-deploy"].status == "Succeeded"
    assert w.kube.requests, "the wait task asked the Kubernetes API"


def test_a_rerun_of_the_same_commit_commits_nothing_and_tells_nobody(world):
    w = world()
    headers, raw = w.push_event({"app": "v2\n"})
    [run] = w.runs_for(headers, raw)
    assert w.run(run).status == "Succeeded"
    head = w.server.head("org/gitops-config.git")
    rerun = w.run(run)   # the same source commit builds the same image
    assert rerun.status == "Succeeded", rerun.text
    assert rerun.tasks["deploy"].results["commit"] == ""
    assert "already deploys" in rerun.log_of("deploy")
    assert rerun.tasks["notify-argocd"].status == "Skipped" and rerun.tasks["wait-for-deploy"].status == "Skipped"
    assert w.server.head("org/gitops-config.git") == head and len(w.argocd.requests) == 1


# ---------------------------------------------------------------- races
@pytest.mark.parametrize("race_at", ["advertise", "receive"])
def test_a_concurrent_push_to_another_file_is_kept_and_the_edit_reapplied(world, race_at):
    w = world()
    w.server.race_at = race_at
    w.server.before_push = lambda bare: w.server.commit("org/gitops-config.git", {"other-app/README": "x\n"},
                                                        "another pipeline")
    out = build(w, {"app": "v2\n"})
    assert out.status == "Succeeded", out.text
    assert "applying the change again" in out.log_of("deploy")
    assert w.server.show("org/gitops-config.git", "main", "other-app/README") == "x\n"
    assert w.built[0]["digest"] in w.overlay()


def test_a_newer_build_that_won_the_race_is_never_replaced_by_an_older_one(world):
    w = world()
    newer = w.fill(overlay_with(DIGEST_B, "f" * 40, 1796036400))   # 2026-11-30T11:00Z, after this build's commit (10:00Z)
    w.server.before_push = lambda bare: w.server.commit("org/gitops-config.git", {f"{OVERLAY}/kustomization.yaml": newer},
                                                        "person-service: deploy the newer build")
    out = build(w, {"app": "old\n"}, author=OLD)
    assert out.status == "Succeeded", out.text
    assert "newer than" in out.log_of("deploy")
    assert out.tasks["deploy"].results["commit"] == ""
    assert DIGEST_B in w.overlay() and w.built[0]["digest"] not in w.overlay()


def test_an_older_build_that_won_the_race_is_replaced_on_the_fresh_head(world):
    w = world()
    older = w.fill(overlay_with(DIGEST_A, "e" * 40, 1796029200))   # 2026-11-30T09:00Z, before this build's commit (11:00Z)
    w.server.before_push = lambda bare: w.server.commit("org/gitops-config.git", {f"{OVERLAY}/kustomization.yaml": older},
                                                        "person-service: deploy the older build")
    out = build(w, {"app": "new\n"}, author=NEW)
    assert out.status == "Succeeded", out.text
    overlay = w.overlay()
    assert w.built[0]["digest"] in overlay and DIGEST_A not in overlay
    log = w.server.log("org/gitops-config.git", fmt="%s")
    assert "person-service: deploy the older build" in log   # history kept: no force push


def test_a_push_refused_for_its_credentials_fails_at_once_with_the_servers_message(world):
    w = world(readers={"ci-bot"})   # the token may read but not write
    out = build(w, {"app": "v2\n"})
    assert out.status == "Failed"
    log = out.log_of("deploy")
    assert "403" in log and "not because another push got there first" in log
    assert "applying the change again" not in log
    assert out.tasks["deploy"].status == "Failed"


# ---------------------------------------------------------------- triggers
MONOREPO = {
    "Dockerfile": "FROM scratch\n",
    "services/user/Dockerfile": "FROM scratch\nCOPY . /\n", "services/user/main.go": "package main\n",
    "services/user/ci/test.sh": "#!/bin/sh\necho user tests\n",
    "services/product/Dockerfile": "FROM scratch\n", "services/product/main.go": "package main\n",
    "services/order/Dockerfile": "FROM scratch\n", "services/order/main.go": "package main\n",
}


def monorepo_config() -> dict:
    config = base_config()
    source = "https://github.com/org/person-service.git"
    config["apps"] = [{"name": f"{svc}-service", "image": f"REGISTRY/org/{svc}-service", "path": f"{svc}/overlays/dev",
                       "sourceRepo": source,
                       "build": {"context": f"services/{svc}", "dockerfile": f"services/{svc}/Dockerfile",
                                 "paths": [f"services/{svc}/**"]}}
                      for svc in ("user", "product", "order")]
    return config


def test_a_monorepo_push_builds_only_the_service_it_touches_with_its_own_dockerfile(world):
    w = world(config=monorepo_config(), app_files=MONOREPO,
              config_files={f"{svc}/overlays/dev/kustomization.yaml": KUSTOMIZATION.replace(
                  "IMAGE", f"REGISTRY/org/{svc}-service") for svc in ("user", "product", "order")})
    runs = w.runs_for(*w.push_event({"services/user/main.go": "package main // v2\n"}))
    assert [r["trigger"] for r in runs] == ["user-service"]
    out = w.run(runs[0])
    assert out.status == "Succeeded", out.text
    assert w.built == [{"image": f"{w.registry_host}/org/user-service:{out.results['version']}",
                        "digest": w.built[0]["digest"],
                        "context": "services/user", "dockerfile": "services/user/Dockerfile"}]
    assert w.built[0]["digest"] in w.server.show("org/gitops-config.git", "main", "user/overlays/dev/kustomization.yaml")
    # a change outside every service's paths builds nothing; a change to two services builds both
    assert w.runs_for(*w.push_event({"README.md": "docs\n"})) == []
    both = w.runs_for(*w.push_event({"services/order/main.go": "x\n", "services/product/main.go": "y\n"}))
    assert sorted(r["trigger"] for r in both) == ["order-service", "product-service"]


def test_the_pipeline_bots_own_push_never_starts_ci(world):
    # The config repo inside the source repo: the bot's deploy commit comes back as a push event.
    w = world()
    bot = {"GIT_COMMITTER_EMAIL": BOT_EMAIL, "GIT_AUTHOR_EMAIL": BOT_EMAIL, "GIT_COMMITTER_NAME": "pipeline-bot"}
    assert w.runs_for(*w.push_event({"k8s/overlays/dev/kustomization.yaml": "images: []\n"}, author=bot)) == []
    assert len(w.runs_for(*w.push_event({"app": "v3\n"}))) == 1


def test_deleted_branches_other_repos_and_bad_signatures_start_nothing(world):
    w = world()
    headers, raw = w.push_event({"app": "v2\n"})
    assert w.runs_for({**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}, raw) == []
    assert w.runs_for({**headers, "X-GitHub-Event": "pull_request"}, raw) == []
    other = raw.replace(b"github.com/org/person-service", b"github.com/org/somebody-else")
    import hashlib
    import hmac

    from tests.harness.world import WEBHOOK_SECRET
    signed = {**headers, "X-Hub-Signature-256": "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), other,
                                                                       hashlib.sha256).hexdigest()}
    assert w.runs_for(signed, other) == []


# ---------------------------------------------------------------- storage
@needs_root
def test_every_step_can_write_its_workspace_on_root_owned_block_storage(world):
    w = world()
    out = build(w, {"app": "v2\n"}, storage="block")
    assert out.status == "Succeeded", out.text
    # Without the pod template's fsGroup, the clone (uid 65532) cannot write the root-owned volume.
    headers, raw = w.push_event({"app": "v3\n"})
    [run] = w.runs_for(headers, raw)
    run["spec"]["taskRunTemplate"].pop("podTemplate")
    failed = w.run(run, storage="block")
    assert failed.status == "Failed" and failed.tasks["clone-source"].status == "Failed"
    assert "Permission denied" in failed.log_of("clone-source")


def test_every_pipeline_run_the_platform_starts_carries_the_fs_group(world):
    w = world()
    [run] = w.runs_for(*w.push_event({"app": "v2\n"}))
    assert run["spec"]["taskRunTemplate"]["podTemplate"]["securityContext"] == {
        "fsGroup": 65532, "fsGroupChangePolicy": "OnRootMismatch"}
    # a task with a pod template of its own repeats it (Tekton replaces the securityContext as a whole)
    for spec in run["spec"]["taskRunSpecs"]:
        assert spec["podTemplate"]["securityContext"]["fsGroup"] == 65532


# ---------------------------------------------------------------- stage-release
def release_world(world, pulls: PullsApi | None = None, flux: bool = False,
                  canary: bool = False) -> tuple[World, str]:
    config = base_config(**({"canary": {"enabled": True}} if canary else {}))
    if flux:
        config["imageUpdates"] = "flux"
        config["apps"][0]["imagePolicy"] = {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}
    if flux:
        dev = KUSTOMIZATION.replace("    newTag: bootstrap\n",
                                    '    newTag: main-abc1234-1700000000 # {"$imagepolicy": "flux-system:person-service-dev:tag"}\n')
        staging = KUSTOMIZATION.replace("    newTag: bootstrap\n",
                                        '    newTag: 0.9.0 # {"$imagepolicy": "flux-system:person-service-staging:tag"}\n')
    else:
        staging = KUSTOMIZATION
    w = world(config=config, pulls=pulls, config_files={"person-service/overlays/staging/kustomization.yaml": staging})
    if flux:
        w.registry.push_image("org/person-service", "main-abc1234-1700000000", b"the flux-chosen build")
        w.server.commit("org/gitops-config.git", {f"{OVERLAY}/kustomization.yaml": w.fill(dev)}, "flux: update images")
        return w, ""
    digest = w.registry.push_image("org/person-service", "2403f47", b"the dev build")
    w.server.commit("org/gitops-config.git", {f"{OVERLAY}/kustomization.yaml": w.fill(overlay_with(digest, "c" * 40, 1))},
                    "deploy to dev")
    return w, digest


def release(w: World, version: str = "1.2.3", **kwargs):
    return w.run(w.pipeline_run("stage-release", {
        "app-name": "person-service", "image": w.image, "release-version": version, "source-overlay": OVERLAY,
        "target-overlay": "person-service/overlays/staging"}), **kwargs)


@needs_skopeo
def test_stage_release_tags_the_dev_digest_and_opens_the_pull_request(world):
    w, digest = release_world(world)
    out = release(w)
    assert out.status == "Succeeded", out.text
    staging = w.server.show("org/gitops-config.git", "release-1.2.3", "person-service/overlays/staging/kustomization.yaml")
    assert "    newTag: 1.2.3\n" in staging and f"    digest: {digest}" in staging
    assert w.built_image("person-service/overlays/staging", "release-1.2.3") == f"{w.image}:1.2.3@{digest}"
    assert ("org/person-service", "1.2.3") in w.registry.manifests
    assert w.registry.digest(w.registry.manifests[("org/person-service", "1.2.3")][1]) == digest
    [pull] = [r for r in w.api.requests if r.method == "POST"]
    assert pull.json()["head"] == "release-1.2.3" and pull.json()["base"] == "main"
    assert out.tasks["open-pull-request"].results["url"] == "https://git.example/pull/7"


@needs_skopeo
def test_re_releasing_after_main_moved_regenerates_the_release_branch(world):
    w, digest = release_world(world)
    assert release(w).status == "Succeeded"
    first = w.server.head("org/gitops-config.git", "release-1.2.3")
    moved = w.server.commit("org/gitops-config.git", {"other-app/overlays/dev/kustomization.yaml": "resources: []\n"},
                            "main moves on")
    w.pulls.mode = "exists"
    again = release(w)
    assert again.status == "Succeeded", again.text
    second = w.server.head("org/gitops-config.git", "release-1.2.3")
    assert second != first
    parent = w.server.log("org/gitops-config.git", ref="release-1.2.3", fmt="%P").split()[0]
    assert parent == moved, "the release branch is generated on the current main"
    assert "already open" in again.log_of("open-pull-request")
    assert w.built_image("person-service/overlays/staging", "release-1.2.3") == f"{w.image}:1.2.3@{digest}"
    # a third run with nothing new leaves the branch alone
    third = release(w)
    assert third.status == "Succeeded" and w.server.head("org/gitops-config.git", "release-1.2.3") == second


@needs_skopeo
@pytest.mark.parametrize("mode, message", [("no-commits", "No commits between main and release-1.2.3"),
                                           ("invalid-base", "PullRequest base invalid")])
def test_any_refusal_of_the_pull_request_but_already_exists_fails_the_run(world, mode, message):
    w, _ = release_world(world, pulls=PullsApi(mode=mode, token="ghp_harness_token_0123456789"))
    out = release(w)
    assert out.status == "Failed"
    log = out.log_of("open-pull-request")
    assert "GitHub refused the pull request release-1.2.3 -> main (422)" in log
    if mode == "no-commits":
        assert message in log
    else:
        assert "Validation Failed" in log


@needs_skopeo
def test_flux_mode_promotes_the_tag_flux_chose_and_keeps_every_marker(world):
    w, _ = release_world(world, flux=True)
    out = release(w, params={"image-updates": "flux"})
    assert out.status == "Succeeded", out.text
    staging = w.server.show("org/gitops-config.git", "release-1.2.3", "person-service/overlays/staging/kustomization.yaml")
    assert '    newTag: 1.2.3 # {"$imagepolicy": "flux-system:person-service-staging:tag"}\n' in staging
    assert "digest:" not in staging
    assert w.built_image("person-service/overlays/staging", "release-1.2.3") == f"{w.image}:1.2.3"
    assert w.built_image() == f"{w.image}:main-abc1234-1700000000"   # the dev overlay Flux wrote, untouched
    assert ("org/person-service", "1.2.3") in w.registry.manifests


@pytest.mark.parametrize("version", ["1.2", "1.2.3+build.5", "latest", "01.2.3"])
def test_a_release_version_that_is_not_semver_is_refused(world, version):
    w, _ = release_world(world)
    out = release(w, version=version)
    assert out.status == "Failed"
    assert "is not a semantic version" in out.log_of("release-source")
    assert w.server.head("org/gitops-config.git", f"release-{version}") is None


# ---------------------------------------------------------------- small ones
def test_git_version_fails_when_there_is_no_commit(world, tmp_path):
    w = world()
    empty = Path(w.root) / "not-a-checkout"
    empty.mkdir()
    empty.chmod(0o777)
    harness = Harness(w.objects, w.root)
    out = harness.run_task("git-version", {}, {"source": empty})
    assert out.status == "Failed"
    assert "is not a git checkout" in out.text


def test_an_overlay_written_as_kustomization_yml_is_deployed(world):
    w = world(config_files={f"{OVERLAY}/kustomization.yaml": None, f"{OVERLAY}/kustomization.yml": KUSTOMIZATION})
    out = build(w, {"app": "v2\n"})
    assert out.status == "Succeeded", out.text
    assert w.built[0]["digest"] in w.server.show("org/gitops-config.git", "main", f"{OVERLAY}/kustomization.yml")
    assert w.built_image() == f"{w.image}:{out.results['version']}@{w.built[0]['digest']}"


def test_a_failed_argocd_sync_fails_the_run_with_argocds_message(world):
    w = world()
    w.sync_failure = "one or more objects failed to apply, reason: Deployment.apps is invalid"
    out = build(w, {"app": "v2\n"})
    assert out.status == "Failed"
    log = out.log_of("wait-for-deploy")
    assert "Argo CD could not deploy" in log and "Deployment.apps is invalid" in log
    assert "Deployment/person-service: admission webhook denied it" in log


@needs_root
def test_kubelet_fs_group_emulation_matches_what_kubelet_does(tmp_path):
    volume = block_storage_volume(tmp_path / "v")
    kubelet_fs_group(volume, 65532)
    mode = volume.stat().st_mode
    assert volume.stat().st_gid == 65532 and mode & 0o2070 == 0o2070


# ---------------------------------------------------------------- canaries gate the loop
def canary_world(world, **canary):
    return world(config=base_config(canary={"enabled": True, **canary}))


def test_a_canary_app_waits_until_flagger_promotes_the_pushed_image(world):
    w = canary_world(world)
    w.canary_script = [
        {"phase": "Succeeded", "target": "new", "primary": "old"},   # Argo CD applied it; Flagger has not noticed
        {"phase": "Progressing", "target": "new", "primary": "old", "weight": 10, "changed": 2},
        {"phase": "Promoting", "target": "new", "primary": "old", "weight": 50, "changed": 60},
        {"phase": "Succeeded", "target": "new", "primary": "new", "changed": 90},
    ]
    out = build(w, {"app": "v2\n"})
    assert out.status == "Succeeded", out.text
    log = out.log_of("wait-for-deploy")
    assert f"Flagger: person-service-dev/person-service {w.built[0]['digest']} promoted after its analysis" in log
    assert "canary Progressing, weight 10%" in log
    assert w.canary_script == [w.canary_script[-1]], "it kept looking until the primary ran the new image"


def test_a_rollback_fails_the_run_with_flaggers_reasons(world):
    w = canary_world(world)
    w.canary_script = [
        {"phase": "Progressing", "target": "new", "primary": "old", "weight": 10, "changed": 2},
        {"phase": "Failed", "target": "new", "primary": "old", "changed": 120,
         "message": "Canary analysis failed, Deployment scaled to zero."},
    ]
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 100))
    w.events = [
        {"type": "Normal", "message": "Advance person-service canary weight 10", "lastTimestamp": at},
        {"type": "Warning", "message": "Halt person-service advancement request-success-rate 71.32 < 99",
         "lastTimestamp": at},
        {"type": "Warning", "message": "Rolling back person-service failed checks threshold reached 5",
         "lastTimestamp": at},
        {"type": "Warning", "message": "an old warning", "lastTimestamp": "2020-01-01T00:00:00Z"},
    ]
    out = build(w, {"app": "v2\n"})
    assert out.status == "Failed"
    log = out.log_of("wait-for-deploy")
    assert f"Flagger rolled back {w.built[0]['digest']}" in log
    assert "Canary analysis failed, Deployment scaled to zero." in log
    assert "Halt person-service advancement request-success-rate 71.32 < 99" in log
    assert "failed checks threshold reached 5" in log
    assert "an old warning" not in log and "Advance person-service" not in log


def test_an_earlier_versions_rollback_is_not_taken_for_this_ones(world):
    w = canary_world(world)
    w.canary_script = [
        {"phase": "Failed", "target": "new", "primary": "old", "changed": -3600},   # the previous version's
        {"phase": "Progressing", "target": "new", "primary": "old", "weight": 10, "changed": 3},
        {"phase": "Succeeded", "target": "new", "primary": "new", "changed": 60},
    ]
    out = build(w, {"app": "v2\n"})
    assert out.status == "Succeeded", out.text


def test_a_version_superseded_during_its_analysis_ends_the_wait_without_claiming_it(world):
    w = canary_world(world)
    w.canary_script = [{"phase": "Progressing", "target": "new", "primary": "old", "changed": 3},
                       {"phase": "Progressing", "target": "old", "primary": "old", "changed": 30}]
    out = build(w, {"app": "v2\n"})
    assert out.status == "Succeeded", out.text
    assert "was never promoted" in out.log_of("wait-for-deploy")


def test_a_canary_that_never_finishes_times_out_with_its_state(world):
    w = canary_world(world, waitTimeout="2s")
    w.canary_script = [{"phase": "Progressing", "target": "new", "primary": "old", "weight": 20, "changed": 3}]
    out = build(w, {"app": "v2\n"})
    assert out.status == "Failed"
    assert "timed out after 2s waiting for Flagger" in out.log_of("wait-for-deploy")
    assert "canary Progressing, weight 20%" in out.log_of("wait-for-deploy")


@needs_skopeo
@pytest.mark.parametrize("phase, primary, passes", [("Succeeded", "new", True), ("Succeeded", "old", False),
                                                    ("Progressing", "old", False), ("Failed", "old", False),
                                                    ("Initialized", "new", False)])
def test_stage_release_releases_only_what_its_canary_promoted(world, phase, primary, passes):
    w, digest = release_world(world, canary=True)
    w.canary_now = {"phase": phase, "target": "new", "primary": primary}
    out = release(w, params={"canary": "book-dev/person-service"})
    gate = out.log_of("release-gate")
    if passes:
        assert out.status == "Succeeded", out.text
        assert "promoted" in gate and digest in gate
    else:
        assert out.status == "Failed"
        assert "not releasing" in gate and f"phase {phase}" in gate
        assert out.tasks["tag-image"].status == "Skipped" or out.tasks["tag-image"].status is None
        assert ("org/person-service", "1.2.3") not in w.registry.manifests
        assert w.server.head("org/gitops-config.git", "release-1.2.3") is None
        if phase == "Initialized":
            assert "release the next one" in gate


@needs_skopeo
def test_stage_release_of_an_app_without_a_canary_needs_its_image_running_healthy(world):
    w, digest = release_world(world)
    assert release(w).status == "Succeeded"
    # Argo CD reports another image running: the version in the overlay was not deployed
    w.deployed_image = lambda: f"{w.image}:older@sha256:{'1' * 64}"
    out = release(w, version="1.2.4")
    assert out.status == "Failed"
    assert "does not run it" in out.log_of("release-gate")
    assert w.server.head("org/gitops-config.git", "release-1.2.4") is None


@needs_skopeo
def test_stage_release_refuses_to_run_where_the_source_environment_does_not(world):
    w, _ = release_world(world)
    w.app_path = "person-service/overlays/staging"   # this cluster runs staging, not the source (dev)
    out = release(w)
    assert out.status == "Failed"
    assert "deploys 'person-service/overlays/staging', not the source overlay" in out.log_of("release-gate")
    assert "run stage-release in the cluster of the source environment" in out.log_of("release-gate")
