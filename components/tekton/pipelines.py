"""The two Pipelines: `gitops-ci` (build an app and deploy it to dev by digest) and `stage-release`
(promote what dev runs to another environment through a release branch and a pull request).

Both are parameterised by app: one object serves every app, and the EventListener's per-app trigger (or
the person starting a release) supplies the app's repo, image and overlay. That keeps the number of
resources independent of the number of apps.
"""
from __future__ import annotations

from dataclasses import dataclass

from components.config import PlatformConfig, repo_host, repo_is_ssh
from components.config.embedded import GIT_BASE
from components.models import ObjectMeta
from components.models.tekton import (
    Param,
    ParamSpec,
    Pipeline,
    PipelineResult,
    PipelineSpec,
    PipelineTask,
    PipelineWorkspaceDeclaration,
    TaskRef,
    WhenExpression,
    WorkspacePipelineTaskBinding,
)
from components.tekton import tasks as t
from components.tekton.catalog import GIT_CLONE, KANIKO

GITOPS_CI = "gitops-ci"
STAGE_RELEASE = "stage-release"
DEV = "dev"


WORK = "work"          # one volume per run: the source and config checkouts are subPaths of it
KUBE_API = "kube-api"  # the projected ServiceAccount token of the read-only wait task


@dataclass(frozen=True)
class PipelineOptions:
    """What the pipelines can do given the config and the secrets that were set."""

    notify_argocd: bool = False    # Argo CD's webhook secret exists: tell Argo CD about each push
    argocd_webhook_url: str = ""   # argocd-server's /api/webhook inside the cluster
    pull_request: bool = False     # an API token for the config repo exists: open the release PR


def _p(name: str, value: str | list[str]) -> Param:
    return Param(name=name, value=value)


def _ws(name: str, workspace: str, sub_path: str | None = None) -> WorkspacePipelineTaskBinding:
    return WorkspacePipelineTaskBinding(name=name, workspace=workspace, sub_path=sub_path)


def _param(name: str, description: str, default: str | None = None) -> ParamSpec:
    return ParamSpec(name=name, type="string", description=description, default=default)


def _clone(name: str, url: str, revision: str, sub_path: str, versions, when=None) -> PipelineTask:
    return PipelineTask(name=name, task_ref=GIT_CLONE.ref(versions), when=when,
                        params=[_p("url", url), _p("revision", revision),
                                _p("gitInitImage", versions.image_git_clone)],
                        workspaces=[_ws("output", WORK, sub_path)])


RUN = "$(context.pipelineRun.namespace)/$(context.pipelineRun.name)"


def _local(name: str) -> TaskRef:
    return TaskRef(name=name)


def git_api(cfg: PlatformConfig) -> str:
    return cfg.tekton.git_api or ("gitea" if cfg.embedded_git else "github")


def github_api_url(cfg: PlatformConfig) -> str:
    """api.github.com for github.com, the GitHub Enterprise API path on any other host; the embedded Git
    server's /api/v1."""
    if cfg.tekton.github_api_url:
        return cfg.tekton.github_api_url.rstrip("/")
    if cfg.embedded_git:
        return f"{GIT_BASE}/api/v1"
    host = repo_host(cfg.config_repo.url)
    return "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"


def config_clone_url(cfg: PlatformConfig) -> str:
    """The config repo URL the pipelines clone and push: in token mode an ssh-style URL is turned into
    its https form, because a token authenticates over https only."""
    url = cfg.config_repo.url
    if cfg.tekton.git_auth == "token" and repo_is_ssh(url):
        host = repo_host(url)
        return f"https://{host}/{repo_slug(url)}.git"
    return url


def source_clone_url(cfg: PlatformConfig, app) -> str:
    """The URL gitops-ci clones an app's source from: its configured `sourceRepo` (never the push
    payload's clone_url), in its https form in token mode, like the config repo."""
    url = app.source_repo
    if cfg.tekton.git_auth == "token" and repo_is_ssh(url):
        return f"https://{repo_host(url)}/{repo_slug(url)}.git"
    return url


def repo_slug(url: str) -> str:
    """owner/name of a repository URL (https, ssh:// or git@host:path)."""
    path = url.split("://", 1)[1].split("/", 1)[1] if "://" in url else url.split(":", 1)[1]
    path = path.strip("/")
    return path[:-4] if path.endswith(".git") else path


def gitops_ci(cfg: PlatformConfig, options: PipelineOptions) -> Pipeline:
    """Clone the source, test and build it in the app's build context, push the image (digest as a
    result); on the deploy branch of a dev environment, write the digest into the app's overlay, push
    it, tell Argo CD and wait until the app runs it."""
    versions, tekton = cfg.versions, cfg.tekton
    # Only a push to the deploy branch of a dev environment writes the overlay; other branches build and
    # test, and other environments are changed through stage-release only. With `imageUpdates: flux`,
    # Flux writes image references by policy, so the pipeline only builds and pushes.
    deploy_to_dev = [
        WhenExpression(input="$(params.source-branch)", operator="in", values=["$(params.deploy-branch)"]),
        WhenExpression(input="$(params.environment)", operator="in", values=[DEV]),
        WhenExpression(input="$(params.image-updates)", operator="in", values=["tekton"]),
    ]
    pushed = [WhenExpression(input="$(tasks.deploy.results.commit)", operator="notin", values=[""])]
    digest = "$(tasks.build-and-push.results.IMAGE_DIGEST)"
    version = "$(tasks.version.results.version)"
    tasks = [
        _clone("clone-source", "$(params.source-url)", "$(params.source-revision)", "source", versions),
        _clone("clone-config", "$(params.config-url)", "$(params.config-revision)", "config", versions,
               when=deploy_to_dev),
        PipelineTask(name="version", task_ref=_local(t.GIT_VERSION), run_after=["clone-source"],
                     workspaces=[_ws("source", WORK, "source")]),
        PipelineTask(name="test", task_ref=_local(t.RUN_TESTS), run_after=["clone-source"],
                     params=[_p("image", "$(params.test-image)"), _p("script", "$(params.test-script)"),
                             _p("context", "$(params.context)")],
                     workspaces=[_ws("source", WORK, "source")]),
        PipelineTask(name="build-and-push", task_ref=KANIKO.ref(versions), run_after=["test", "version"],
                     params=[_p("IMAGE", f"$(params.image):{version}"), _p("DOCKERFILE", "$(params.dockerfile)"),
                             _p("CONTEXT", "$(params.context)"), _p("BUILDER_IMAGE", versions.image_kaniko),
                             # kaniko's --insecure-registry: plain HTTP to that registry, for push and pull
                             # (osscontainertools/kaniko README, "Flag --insecure-registry").
                             *([_p("EXTRA_ARGS", [f"--insecure-registry={cfg.registry.server}"])]
                               if cfg.registry.insecure else [])],
                     workspaces=[_ws("source", WORK, "source"), _ws("dockerconfig", "dockerconfig")]),
        PipelineTask(name="deploy", task_ref=_local(t.DEPLOY_IMAGE), run_after=["build-and-push", "clone-config"],
                     when=deploy_to_dev,
                     params=[_p("app", "$(params.app-name)"), _p("image", "$(params.image)"),
                             _p("version", version), _p("digest", digest),
                             _p("overlay-path", "$(params.overlay-path)"), _p("branch", "$(params.config-revision)"),
                             _p("source-url", "$(params.source-url)"),
                             _p("source-revision", "$(tasks.version.results.commit)"),
                             _p("source-time", "$(tasks.version.results.commit-time)"), _p("run", RUN),
                             _p("user-name", tekton.git_user_name), _p("user-email", tekton.git_user_email)],
                     workspaces=[_ws("config", WORK, "config")]),
    ]
    if options.notify_argocd:
        tasks.append(PipelineTask(
            name="notify-argocd", task_ref=_local(t.NOTIFY_ARGOCD), run_after=["deploy"], when=pushed,
            params=[_p("webhook-url", "$(params.argocd-webhook-url)"), _p("repo-url", cfg.config_repo.url),
                    _p("branch", "$(params.config-revision)"), _p("before", "$(tasks.deploy.results.before)"),
                    _p("after", "$(tasks.deploy.results.commit)"), _p("files", "$(tasks.deploy.results.file)")]))
    tasks.append(PipelineTask(
        name="wait-for-deploy", task_ref=_local(t.WAIT_FOR_DEPLOY),
        run_after=["notify-argocd" if options.notify_argocd else "deploy"],
        when=[*pushed, WhenExpression(input="$(params.wait-for-deploy)", operator="in", values=["true"])],
        params=[_p("application", "$(params.app-name)"), _p("revision", "$(tasks.deploy.results.commit)"),
                _p("timeout", "$(params.deploy-timeout)"), _p("canary", "$(params.canary)"),
                _p("digest", digest), _p("canary-timeout", "$(params.canary-timeout)")],
        workspaces=[_ws(KUBE_API, KUBE_API)]))
    params = [
        _param("app-name", "The app (its Argo CD Application name)."),
        _param("source-url", "Source repository to build."),
        _param("source-revision", "Commit to build."),
        _param("source-branch", "Branch that was pushed."),
        _param("image", "Image repository (no tag), e.g. quay.io/org/app."),
        _param("overlay-path", "The app's overlay in the config repo."),
        _param("context", "The app's build context, relative to the source repo root.", "."),
        _param("dockerfile", "The app's Dockerfile, relative to the source repo root.", "Dockerfile"),
        _param("environment", "Environment of this cluster; only dev overlays are written by CI.", cfg.environment),
        _param("image-updates", "Who writes image references to the config repo: tekton (this pipeline) or flux.",
               cfg.image_updates),
        _param("deploy-branch", "Source branch whose pushes are deployed to dev.", tekton.deploy_branch),
        _param("config-url", "Config repo.", config_clone_url(cfg)),
        _param("config-revision", "Config repo branch to update.", cfg.config_repo.revision),
        _param("test-image", "Image the tests run in (exact tag or digest).",
               tekton.test_image or versions.image_test_runner),
        _param("test-script", "Shell script that runs the tests in the build context.", tekton.test_script),
        _param("wait-for-deploy", "\"true\": wait until Argo CD runs the pushed commit.",
               str(tekton.wait_for_deploy).lower()),
        _param("deploy-timeout", "Seconds to wait for Argo CD.", str(tekton.deploy_timeout_seconds)),
        _param("canary", "namespace/name of the app's Flagger Canary, waited for after Argo CD (empty: none).", ""),
        _param("canary-timeout", "Seconds to wait for the canary's analysis.", "1800"),
    ]
    if options.notify_argocd:
        params.append(_param("argocd-webhook-url", "argocd-server's webhook endpoint inside the cluster.",
                             options.argocd_webhook_url))
    return Pipeline(metadata=ObjectMeta(name=GITOPS_CI, namespace=tekton.namespace), spec=PipelineSpec(
        description="Test, build and push an app's image; on the deploy branch of a dev environment, set the image "
                    "by digest in the app's overlay, push the config repo, tell Argo CD and wait for the deploy.",
        params=params,
        workspaces=[PipelineWorkspaceDeclaration(name=WORK, description="The run's volume: source and config "
                                                 "checkouts (subPaths source/ and config/)."),
                    PipelineWorkspaceDeclaration(name="dockerconfig", optional=True,
                                                 description="docker config.json to push the image."),
                    PipelineWorkspaceDeclaration(name=KUBE_API, description="Projected ServiceAccount token and "
                                                 "cluster CA of the read-only wait task.")],
        tasks=tasks,
        results=[PipelineResult(name="image-digest", value=digest, description="Digest of the image pushed."),
                 PipelineResult(name="version", value=version,
                                description="Version (short source SHA) the image is tagged with."),
                 PipelineResult(name="config-commit", value="$(tasks.deploy.results.commit)",
                                description="Config repo commit that deploys it (dev deploy branch only).")]))


def stage_release(cfg: PlatformConfig, options: PipelineOptions) -> Pipeline:
    """From what the source overlay deploys (a digest, or Flux's tag): tag it as the release version,
    generate the release branch with the target overlay set to it, push it and open the pull request
    that promotes it (merging the PR is the promotion)."""
    versions, tekton = cfg.versions, cfg.tekton
    # Nothing is created without a release version (the chapter-five guard).
    released = [WhenExpression(input="$(params.release-version)", operator="notin", values=[""])]
    branch = "$(params.release-branch-prefix)$(params.release-version)"
    tasks = [
        _clone("clone-config", "$(params.config-url)", "$(params.config-revision)", "config", versions),
        PipelineTask(name="release-source", task_ref=_local(t.RELEASE_SOURCE), run_after=["clone-config"],
                     when=released,
                     params=[_p("image", "$(params.image)"), _p("version", "$(params.release-version)"),
                             _p("source-overlay", "$(params.source-overlay)"),
                             _p("image-updates", "$(params.image-updates)")],
                     workspaces=[_ws("config", WORK, "config")]),
        # Only what passed in the source environment is released (its canary, or Argo CD's health).
        PipelineTask(name="release-gate", task_ref=_local(t.RELEASE_GATE), run_after=["release-source"],
                     params=[_p("application", "$(params.app-name)"), _p("image", "$(params.image)"),
                             _p("reference", "$(tasks.release-source.results.reference)"),
                             _p("source-overlay", "$(params.source-overlay)"),
                             _p("canary", "$(params.canary)")],
                     workspaces=[_ws(KUBE_API, KUBE_API)]),
        PipelineTask(name="tag-image", task_ref=_local(t.TAG_IMAGE), run_after=["release-gate"],
                     params=[_p("image", "$(params.image)"),
                             _p("reference", "$(tasks.release-source.results.reference)"),
                             _p("tag", "$(params.release-version)"),
                             _p("tls-verify", "false" if cfg.registry.insecure else "true")],
                     workspaces=[_ws("dockerconfig", "dockerconfig")]),
        PipelineTask(name="promote", task_ref=_local(t.PROMOTE_RELEASE), run_after=["tag-image"],
                     params=[_p("app", "$(params.app-name)"), _p("image", "$(params.image)"),
                             _p("version", "$(params.release-version)"),
                             _p("digest", "$(tasks.tag-image.results.digest)"),
                             _p("source-overlay", "$(params.source-overlay)"),
                             _p("target-overlay", "$(params.target-overlay)"), _p("branch", branch),
                             _p("base", "$(params.config-revision)"), _p("image-updates", "$(params.image-updates)"),
                             _p("run", RUN),
                             _p("user-name", tekton.git_user_name), _p("user-email", tekton.git_user_email)],
                     workspaces=[_ws("config", WORK, "config")]),
    ]
    params = [
        _param("app-name", "The app being released."),
        _param("image", "Image repository (no tag), e.g. quay.io/org/app."),
        _param("release-version", "Release version (semver): image tag and release branch suffix (empty: do nothing).",
               ""),
        _param("source-overlay", "Overlay whose image is released (dev)."),
        _param("target-overlay", "Overlay to promote to (staging/prod)."),
        _param("image-updates", "tekton (overlays pin digests) or flux (overlays hold Flux's tags).",
               cfg.image_updates),
        _param("canary", "namespace/name of the app's Flagger Canary in this cluster (empty: the app has none; "
               "then its Application must be Synced and Healthy with the image).", ""),
        _param("release-branch-prefix", "Release branches are <prefix><version>.", tekton.release_branch_prefix),
        _param("config-url", "Config repo.", config_clone_url(cfg)),
        _param("config-revision", "Branch the release is based on and the pull request targets.",
               cfg.config_repo.revision),
    ]
    if options.pull_request:
        params += [_param("api-url", "API base URL of the config repo's server.", github_api_url(cfg)),
                   _param("config-repository", "owner/name of the config repo.", repo_slug(cfg.config_repo.url))]
        tasks.append(PipelineTask(
            name="open-pull-request", task_ref=_local(t.OPEN_PULL_REQUEST), run_after=["promote"],
            when=[WhenExpression(input="$(tasks.promote.results.changed)", operator="in", values=["true"])],
            params=[_p("api-url", "$(params.api-url)"), _p("flavor", git_api(cfg)),
                    # the embedded server's credential is its admin's password: HTTP basic, not a token
                    _p("auth", "basic" if cfg.embedded_git and not cfg.tekton.git_api else "token"),
                    _p("repository", "$(params.config-repository)"),
                    _p("head", branch), _p("base", "$(params.config-revision)"),
                    _p("title", "Release $(params.app-name) $(params.release-version) to $(params.target-overlay)"),
                    _p("body", "Promotes $(params.image):$(params.release-version) "
                               "($(tasks.tag-image.results.digest)) from $(params.source-overlay) to "
                               "$(params.target-overlay). Merging this pull request deploys it.")]))
    return Pipeline(metadata=ObjectMeta(name=STAGE_RELEASE, namespace=tekton.namespace), spec=PipelineSpec(
        description="Promote what an app's dev overlay deploys, once it passed there (its canary promoted it, or "
                    "Argo CD reports it Synced and Healthy): tag the image with the release version, generate the "
                    "release branch with the target overlay set to it, push, and open the pull request.",
        params=params,
        workspaces=[PipelineWorkspaceDeclaration(name=WORK, description="The run's volume (config checkout)."),
                    PipelineWorkspaceDeclaration(name="dockerconfig", optional=True,
                                                 description="docker config.json to tag the image."),
                    PipelineWorkspaceDeclaration(name=KUBE_API, description="Projected ServiceAccount token and "
                                                 "cluster CA of the read-only release gate.")],
        tasks=tasks,
        results=[PipelineResult(name="digest", value="$(tasks.tag-image.results.digest)",
                                description="Digest released."),
                 PipelineResult(name="commit", value="$(tasks.promote.results.commit)",
                                description="Head of the release branch.")]))


def platform_tasks(cfg: PlatformConfig, options: PipelineOptions, token_secret: str | None,
                   webhook_secret: str | None) -> list:
    """Every Task the pipelines reference by name (notify-argocd and open-pull-request only when usable)."""
    versions, ns = cfg.versions, cfg.tekton.namespace
    found = [t.git_version(versions, ns), t.run_tests(versions, ns), t.deploy_image(versions, ns),
             t.wait_for_deploy(versions, ns), t.release_gate(versions, ns), t.release_source(versions, ns), t.tag_image(versions, ns),
             t.promote_release(versions, ns)]
    if options.pull_request and token_secret:
        found.append(t.open_pull_request(versions, ns, token_secret, "password"))
    if options.notify_argocd and webhook_secret:
        found.append(t.notify_argocd(versions, ns, webhook_secret, "secret"))
    return found
