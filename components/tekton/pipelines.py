"""The two Pipelines: `gitops-ci` (build an app and deploy it to dev by digest) and `stage-release`
(promote the digest dev runs to another environment through a release branch and a pull request).

Both are parameterised by app: one object serves every app, and the EventListener's per-app trigger (or
the person starting a release) supplies the app's repo, image and overlay. That keeps the number of
resources independent of the number of apps.
"""
from __future__ import annotations

from dataclasses import dataclass

from components.config import PlatformConfig, repo_host, repo_is_ssh
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


@dataclass(frozen=True)
class PipelineOptions:
    """What the pipelines can do given the secrets that were set."""

    argocd_sync: bool = False      # argocdToken set: sync the app in Argo CD after the commit
    pull_request: bool = False     # an API token for the config repo exists: open the release PR


def _p(name: str, value: str | list[str]) -> Param:
    return Param(name=name, value=value)


def _ws(name: str, workspace: str) -> WorkspacePipelineTaskBinding:
    return WorkspacePipelineTaskBinding(name=name, workspace=workspace)


def _local(name: str) -> TaskRef:
    return TaskRef(name=name)


def github_api_url(cfg: PlatformConfig) -> str:
    """api.github.com for github.com, the GitHub Enterprise API path on any other host."""
    if cfg.tekton.github_api_url:
        return cfg.tekton.github_api_url.rstrip("/")
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


def repo_slug(url: str) -> str:
    """owner/name of a repository URL (https, ssh:// or git@host:path)."""
    path = url.split("://", 1)[1].split("/", 1)[1] if "://" in url else url.split(":", 1)[1]
    path = path.strip("/")
    return path[:-4] if path.endswith(".git") else path


def gitops_ci(cfg: PlatformConfig, options: PipelineOptions) -> Pipeline:
    """Clone source and config in parallel, test, build and push (digest as result), then, for a push to
    the deploy branch in a dev environment only, set the image by digest in the overlay and push it."""
    versions, tekton = cfg.versions, cfg.tekton
    # Only a push to the deploy branch of a dev environment writes the overlay; other branches build and
    # test, and other environments are changed through stage-release only. With `imageUpdates: flux`,
    # Flux writes image references by policy, so the pipeline only builds and pushes.
    deploy_to_dev = [
        WhenExpression(input="$(params.source-branch)", operator="in", values=["$(params.deploy-branch)"]),
        WhenExpression(input="$(params.environment)", operator="in", values=[DEV]),
        WhenExpression(input="$(params.image-updates)", operator="in", values=["tekton"]),
    ]
    digest = "$(tasks.build-and-push.results.IMAGE_DIGEST)"
    tasks = [
        PipelineTask(name="clone-source", task_ref=GIT_CLONE.ref(versions),
                     params=[_p("url", "$(params.source-url)"), _p("revision", "$(params.source-revision)")],
                     workspaces=[_ws("output", "source")]),
        PipelineTask(name="clone-config", task_ref=GIT_CLONE.ref(versions),
                     params=[_p("url", "$(params.config-url)"), _p("revision", "$(params.config-revision)")],
                     workspaces=[_ws("output", "config")]),
        PipelineTask(name="version", task_ref=_local(t.GIT_VERSION), run_after=["clone-source"],
                     workspaces=[_ws("source", "source")]),
        PipelineTask(name="test", task_ref=_local(t.RUN_TESTS), run_after=["clone-source"],
                     params=[_p("image", "$(params.test-image)"), _p("script", "$(params.test-script)")],
                     workspaces=[_ws("source", "source")]),
        PipelineTask(name="build-and-push", task_ref=KANIKO.ref(versions), run_after=["test", "version"],
                     params=[_p("IMAGE", "$(params.image):$(tasks.version.results.version)"),
                             _p("DOCKERFILE", "$(params.dockerfile)"), _p("CONTEXT", "$(params.context)")],
                     workspaces=[_ws("source", "source"), _ws("dockerconfig", "dockerconfig")]),
        PipelineTask(name="set-image", task_ref=_local(t.KUSTOMIZE_SET_IMAGE),
                     run_after=["build-and-push", "clone-config"], when=deploy_to_dev,
                     params=[_p("overlay-path", "$(params.overlay-path)"), _p("image-name", "$(params.image)"),
                             _p("new-image", "$(params.image)"), _p("digest", digest)],
                     workspaces=[_ws("source", "config")]),
        PipelineTask(name="commit-push", task_ref=_local(t.GIT_COMMIT_PUSH), run_after=["set-image"],
                     when=deploy_to_dev,
                     params=[_p("app", "$(params.app-name)"), _p("image", "$(params.image)"), _p("digest", digest),
                             _p("path", "$(params.overlay-path)"), _p("branch", "$(params.config-revision)"),
                             _p("details", "Built from $(params.source-url) at $(params.source-revision) "
                                           "(version $(tasks.version.results.version))."),
                             _p("user-name", tekton.git_user_name), _p("user-email", tekton.git_user_email)],
                     workspaces=[_ws("source", "config")]),
    ]
    params = [
        ParamSpec(name="app-name", type="string", description="The app (its Argo CD Application name)."),
        ParamSpec(name="source-url", type="string", description="Source repository to build."),
        ParamSpec(name="source-revision", type="string", description="Commit to build."),
        ParamSpec(name="source-branch", type="string", description="Branch that was pushed."),
        ParamSpec(name="image", type="string", description="Image repository (no tag), e.g. quay.io/org/app."),
        ParamSpec(name="overlay-path", type="string", description="The app's overlay in the config repo."),
        ParamSpec(name="environment", type="string", default=cfg.environment,
                  description="Environment of this cluster; only dev overlays are written by CI."),
        ParamSpec(name="image-updates", type="string", default=cfg.image_updates,
                  description="Who writes image references to the config repo: tekton (this pipeline) or flux."),
        ParamSpec(name="deploy-branch", type="string", default=tekton.deploy_branch,
                  description="Source branch whose pushes are deployed to dev."),
        ParamSpec(name="config-url", type="string", default=config_clone_url(cfg), description="Config repo."),
        ParamSpec(name="config-revision", type="string", default=cfg.config_repo.revision,
                  description="Config repo branch to update."),
        ParamSpec(name="dockerfile", type="string", default="./Dockerfile", description="Dockerfile path."),
        ParamSpec(name="context", type="string", default="./", description="Build context in the source."),
        ParamSpec(name="test-image", type="string", default=tekton.test_image or versions.image_test_runner,
                  description="Image the tests run in (exact tag or digest)."),
        ParamSpec(name="test-script", type="string", default=tekton.test_script,
                  description="Shell script that runs the tests in the source checkout."),
    ]
    if options.argocd_sync:
        params += [ParamSpec(name="argocd-server", type="string", default=tekton.argocd_server,
                             description="Argo CD API server host:port."),
                   ParamSpec(name="argocd-insecure", type="string", default=str(tekton.argocd_insecure).lower(),
                             description="\"true\" skips verifying Argo CD's TLS certificate.")]
        tasks.append(PipelineTask(
            name="argocd-sync", task_ref=_local(t.ARGOCD_SYNC), run_after=["commit-push"], when=deploy_to_dev,
            params=[_p("application", "$(params.app-name)"), _p("server", "$(params.argocd-server)"),
                    _p("insecure", "$(params.argocd-insecure)")]))
    return Pipeline(metadata=ObjectMeta(name=GITOPS_CI, namespace=tekton.namespace), spec=PipelineSpec(
        description="Test, build and push an app's image; on the deploy branch of a dev environment, set "
                    "the image by digest in the app's overlay and push the config repo.",
        params=params,
        workspaces=[PipelineWorkspaceDeclaration(name="source", description="The app's source checkout."),
                    PipelineWorkspaceDeclaration(name="config", description="The config repo checkout."),
                    PipelineWorkspaceDeclaration(name="dockerconfig", optional=True,
                                                 description="docker config.json to push the image.")],
        tasks=tasks,
        results=[PipelineResult(name="image-digest", value=digest, description="Digest of the image pushed."),
                 PipelineResult(name="version", value="$(tasks.version.results.version)",
                                description="Version (short source SHA) the image is tagged with.")]))


def stage_release(cfg: PlatformConfig, options: PipelineOptions) -> Pipeline:
    """From the digest the dev overlay deploys: tag it as the release version, create the release
    branch with the target overlay set to that digest, push it and open the pull request that promotes
    it (merging the PR is the promotion)."""
    versions, tekton = cfg.versions, cfg.tekton
    # Nothing is created without a release version (the chapter-five guard).
    released = [WhenExpression(input="$(params.release-version)", operator="notin", values=[""])]
    digest = "$(tasks.extract-digest.results.digest)"
    branch = "$(params.release-branch-prefix)$(params.release-version)"
    tasks = [
        PipelineTask(name="clone-config", task_ref=GIT_CLONE.ref(versions),
                     params=[_p("url", "$(params.config-url)"), _p("revision", "$(params.config-revision)")],
                     workspaces=[_ws("output", "config")]),
        PipelineTask(name="extract-digest", task_ref=_local(t.EXTRACT_DIGEST), run_after=["clone-config"],
                     params=[_p("overlay-path", "$(params.source-overlay)"), _p("image-name", "$(params.image)")],
                     workspaces=[_ws("source", "config")]),
        PipelineTask(name="tag-image", task_ref=_local(t.TAG_IMAGE), run_after=["extract-digest"], when=released,
                     params=[_p("image", "$(params.image)"), _p("digest", digest),
                             _p("tag", "$(params.release-version)")],
                     workspaces=[_ws("dockerconfig", "dockerconfig")]),
        PipelineTask(name="set-image", task_ref=_local(t.KUSTOMIZE_SET_IMAGE), run_after=["tag-image"],
                     when=released,
                     params=[_p("overlay-path", "$(params.target-overlay)"), _p("image-name", "$(params.image)"),
                             _p("new-image", "$(params.image)"), _p("digest", digest)],
                     workspaces=[_ws("source", "config")]),
        PipelineTask(name="record-release", task_ref=_local(t.YQ_UPDATE), run_after=["set-image"], when=released,
                     params=[_p("file", "$(params.target-overlay)/kustomization.yaml"),
                             _p("path", '.commonAnnotations."gitops-platform/release"'),
                             _p("value", "$(params.release-version)")],
                     workspaces=[_ws("source", "config")]),
        PipelineTask(name="commit-push", task_ref=_local(t.GIT_COMMIT_PUSH), run_after=["record-release"],
                     when=released,
                     params=[_p("app", "$(params.app-name)"), _p("image", "$(params.image)"), _p("digest", digest),
                             _p("path", "$(params.target-overlay)"), _p("branch", branch),
                             _p("create-branch", "true"),
                             _p("details", "Release $(params.release-version): $(params.target-overlay) takes "
                                           "the digest of $(params.source-overlay), tagged "
                                           "$(params.image):$(params.release-version)."),
                             _p("user-name", tekton.git_user_name), _p("user-email", tekton.git_user_email)],
                     workspaces=[_ws("source", "config")]),
    ]
    params = [
        ParamSpec(name="app-name", type="string", description="The app being released."),
        ParamSpec(name="image", type="string", description="Image repository (no tag), e.g. quay.io/org/app."),
        ParamSpec(name="release-version", type="string", default="",
                  description="Release version: image tag and release branch suffix (empty: do nothing)."),
        ParamSpec(name="source-overlay", type="string", description="Overlay whose digest is released (dev)."),
        ParamSpec(name="target-overlay", type="string", description="Overlay to promote to (stage/prod)."),
        ParamSpec(name="release-branch-prefix", type="string", default=tekton.release_branch_prefix,
                  description="Release branches are <prefix><version>."),
        ParamSpec(name="config-url", type="string", default=config_clone_url(cfg), description="Config repo."),
        ParamSpec(name="config-revision", type="string", default=cfg.config_repo.revision,
                  description="Branch the release is based on and the pull request targets."),
    ]
    if options.pull_request:
        params += [ParamSpec(name="github-api-url", type="string", default=github_api_url(cfg),
                             description="GitHub API base URL."),
                   ParamSpec(name="config-repository", type="string", default=repo_slug(cfg.config_repo.url),
                             description="owner/name of the config repo on GitHub.")]
        tasks.append(PipelineTask(
            name="open-pull-request", task_ref=_local(t.GITHUB_OPEN_PR), run_after=["commit-push"], when=released,
            params=[_p("api-url", "$(params.github-api-url)"), _p("repository", "$(params.config-repository)"),
                    _p("head", branch), _p("base", "$(params.config-revision)"),
                    _p("title", "Release $(params.app-name) $(params.release-version) to $(params.target-overlay)"),
                    _p("body", "Promotes $(params.image)@" + digest + " (tagged $(params.release-version)) "
                               "from $(params.source-overlay) to $(params.target-overlay). Merging this pull "
                               "request deploys it.")]))
    return Pipeline(metadata=ObjectMeta(name=STAGE_RELEASE, namespace=tekton.namespace), spec=PipelineSpec(
        description="Promote the digest an app's dev overlay deploys: tag the image with the release version, "
                    "set it in the target overlay on a release branch, push, and open the pull request.",
        params=params,
        workspaces=[PipelineWorkspaceDeclaration(name="config", description="The config repo checkout."),
                    PipelineWorkspaceDeclaration(name="dockerconfig", optional=True,
                                                 description="docker config.json to tag the image.")],
        tasks=tasks,
        results=[PipelineResult(name="digest", value=digest, description="Digest released."),
                 PipelineResult(name="commit", value="$(tasks.commit-push.results.commit)",
                                description="Commit on the release branch.")]))


def platform_tasks(cfg: PlatformConfig, options: PipelineOptions, token_secret: str | None,
                   argocd_secret: str | None) -> list:
    """Every Task the pipelines reference by name (argocd-sync and github-open-pr only when usable)."""
    versions, ns = cfg.versions, cfg.tekton.namespace
    found = [t.git_version(versions, ns), t.run_tests(versions, ns), t.kustomize_set_image(versions, ns),
             t.yq_update(versions, ns), t.git_commit_push(versions, ns), t.extract_digest(versions, ns),
             t.tag_image(versions, ns)]
    if options.pull_request and token_secret:
        found.append(t.github_open_pr(versions, ns, token_secret, "password"))
    if options.argocd_sync and argocd_secret:
        found.append(t.argocd_sync(versions, ns, argocd_secret, "token"))
    return found
