"""The Tasks the platform defines itself, as typed `tekton.dev/v1` models with digest-pinned images.

The scripts live in `steps/` as plain files (shell for the git steps, Python for the API steps), so they
are linted and run by the tests exactly as the Tasks carry them. Parameters reach a script only through
environment variables, never spliced into its text, so a value can never become code. The platform's
own steps run as uid 65532 (non-root), the user of git-clone, so they own the files of the checkout;
the pod template's fsGroup makes the workspace volume writable by that user on any storage.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from components.models import ObjectMeta
from components.models.tekton import (
    EnvVar,
    EnvVarSource,
    ParamSpec,
    SecretKeySelector,
    Step,
    StepSecurityContext,
    Task,
    TaskResult,
    TaskSpec,
    WorkspaceDeclaration,
)
from components.tekton.catalog import GIT_CLONE_UID
from components.versions import Versions

STEPS = Path(__file__).with_name("steps")

# Task names, referenced by the pipelines.
GIT_VERSION = "git-version"
RUN_TESTS = "run-tests"
DEPLOY_IMAGE = "deploy-image"
NOTIFY_ARGOCD = "notify-argocd"
WAIT_FOR_DEPLOY = "wait-for-deploy"
RELEASE_GATE = "release-gate"
RELEASE_SOURCE = "release-source"
TAG_IMAGE = "tag-image"
PROMOTE_RELEASE = "promote-release"
OPEN_PULL_REQUEST = "open-pull-request"

NON_ROOT = StepSecurityContext(run_as_user=GIT_CLONE_UID, run_as_non_root=True, allow_privilege_escalation=False)


@cache
def _file(name: str) -> str:
    return (STEPS / name).read_text()


def shell_script(body: str) -> str:
    """A git step's script: the shared library (with the kustomization editor) and the step's body."""
    awk = _file("kustomize_images.awk")
    assert "\nAWK\n" not in awk
    return ("#!/bin/sh\n"
            f"KUSTOMIZE_IMAGES_AWK=$(cat <<'AWK'\n{awk}AWK\n)\n"
            + _file("lib.sh") + "\n" + _file(body))


def python_script(entry: str) -> str:
    """An API step's script: `steps/api.py` and the call of one of its functions."""
    return _file("api.py") + f"\n\n{entry}()\n"


def _env(**values: str) -> list[EnvVar]:
    return [EnvVar(name=name, value=value) for name, value in values.items()]


def _secret_env(name: str, secret: str, key: str) -> EnvVar:
    return EnvVar(name=name, value_from=EnvVarSource(secret_key_ref=SecretKeySelector(name=secret, key=key)))


def _p(name: str, description: str, default: str | None = None) -> ParamSpec:
    return ParamSpec(name=name, type="string", description=description, default=default)


def _ws(name: str, description: str, optional: bool | None = None) -> WorkspaceDeclaration:
    return WorkspaceDeclaration(name=name, description=description, optional=optional)


def _r(name: str, description: str) -> TaskResult:
    return TaskResult(name=name, description=description)


GIT_IDENTITY = [_p("user-name", "Commit author name."), _p("user-email", "Commit author email.")]


def _git_env(workspace: str, **values: str) -> list[EnvVar]:
    return _env(CREDENTIALS="$(credentials.path)", GIT_USER_NAME="$(params.user-name)",
                GIT_USER_EMAIL="$(params.user-email)", **{workspace: f"$(workspaces.{workspace.lower()}.path)"},
                **values)


def git_version(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=GIT_VERSION, namespace=namespace), spec=TaskSpec(
        description="The version of a checkout: its short commit SHA (the image tag), full SHA and commit time.",
        workspaces=[_ws("source", "The source checkout.")],
        results=[_r("version", "Short (7 character) SHA of HEAD."), _r("commit", "Full SHA of HEAD."),
                 _r("commit-time", "Commit time of HEAD, seconds since the epoch.")],
        steps=[Step(name="version", image=versions.image_git, security_context=NON_ROOT,
                    env=_env(SOURCE="$(workspaces.source.path)", RESULT_VERSION="$(results.version.path)",
                             RESULT_COMMIT="$(results.commit.path)", RESULT_TIME="$(results.commit-time.path)",
                             CREDENTIALS="$(credentials.path)"),
                    script=shell_script("version.sh"))]))


def run_tests(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=RUN_TESTS, namespace=namespace), spec=TaskSpec(
        description="Run the app's tests with a shell script in a chosen (pinned) image, in the app's build context.",
        params=[_p("image", "Image with the toolchain the tests need (exact tag or digest).",
                   versions.image_test_runner),
                _p("script", "Shell script run in the build context."),
                _p("context", "Directory of the app in the source repo (its build context).", ".")],
        workspaces=[_ws("source", "The source checkout.")],
        steps=[Step(name="test", image="$(params.image)", working_dir="$(workspaces.source.path)/$(params.context)",
                    env=_env(TEST_SCRIPT="$(params.script)"),
                    script='#!/bin/sh\nset -eu\nsh -euc "$TEST_SCRIPT"\n')]))


def deploy_image(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=DEPLOY_IMAGE, namespace=namespace), spec=TaskSpec(
        description="Set the app's image (tag and digest) in its overlay, commit with trailers naming the source "
                    "commit and PipelineRun, and push; lost push races are re-applied on the new head, and an "
                    "older source commit never replaces a newer one.",
        params=[_p("app", "App name."), _p("image", "Image repository (the overlay's images[].name or newName)."),
                _p("version", "Image tag (the short source SHA)."), _p("digest", "Image digest (sha256:...)."),
                _p("overlay-path", "The app's overlay directory in the config repo."),
                _p("branch", "Config repo branch to push to."),
                _p("source-url", "Source repository the image was built from."),
                _p("source-revision", "Source commit the image was built from."),
                _p("source-time", "Commit time of that source commit (seconds since the epoch)."),
                _p("run", "namespace/name of the PipelineRun, for the commit trailer."),
                _p("max-attempts", "Push attempts before giving up on a busy branch.", "5"),
                *GIT_IDENTITY],
        workspaces=[_ws("config", "The config repo checkout.")],
        results=[_r("commit", "Commit pushed (empty when the overlay already deployed it or a newer build)."),
                 _r("before", "The branch head the commit was pushed on top of."),
                 _r("file", "The kustomization file changed, relative to the repo root.")],
        steps=[Step(name="deploy", image=versions.image_git, security_context=NON_ROOT, env=_git_env(
            "CONFIG", APP="$(params.app)", IMAGE="$(params.image)", VERSION="$(params.version)",
            DIGEST="$(params.digest)", OVERLAY="$(params.overlay-path)", BRANCH="$(params.branch)",
            SOURCE_URL="$(params.source-url)", SOURCE_REVISION="$(params.source-revision)",
            SOURCE_TIME="$(params.source-time)", RUN="$(params.run)", MAX_ATTEMPTS="$(params.max-attempts)",
            RESULT_COMMIT="$(results.commit.path)", RESULT_BEFORE="$(results.before.path)",
            RESULT_FILE="$(results.file.path)"),
            script=shell_script("deploy.sh"))]))


def notify_argocd(versions: Versions, namespace: str, secret: str, key: str) -> Task:
    return Task(metadata=ObjectMeta(name=NOTIFY_ARGOCD, namespace=namespace), spec=TaskSpec(
        description="Tell Argo CD about a push to the config repo now: a GitHub push event signed with the webhook "
                    "secret Argo CD trusts, posted to argocd-server in the cluster. No Argo CD token is needed.",
        params=[_p("webhook-url", "argocd-server's /api/webhook URL inside the cluster."),
                _p("repo-url", "The config repo URL, as the Applications name it."),
                _p("branch", "Branch pushed."), _p("before", "Previous head."), _p("after", "Commit pushed."),
                _p("files", "Files the commit changed, one per line.")],
        steps=[Step(name="notify", image=versions.image_python, security_context=NON_ROOT, env=[
            *_env(WEBHOOK_URL="$(params.webhook-url)", REPO_URL="$(params.repo-url)", BRANCH="$(params.branch)",
                  BEFORE="$(params.before)", AFTER="$(params.after)", FILES="$(params.files)",
                  DELIVERY="$(context.taskRun.name)"),
            _secret_env("WEBHOOK_SECRET", secret, key)],
            script=python_script("notify_argocd"))]))


def wait_for_deploy(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=WAIT_FOR_DEPLOY, namespace=namespace), spec=TaskSpec(
        description="Wait, read-only, until the app's Argo CD Application reports the pushed revision Synced and "
                    "Healthy (fail with Argo CD's message when its sync fails or it turns Degraded), then, for a "
                    "canary app, until Flagger promotes the pushed image (fail with Flagger's reasons on a rollback).",
        params=[_p("application", "Argo CD Application name."), _p("revision", "Config repo commit pushed."),
                _p("argocd-namespace", "Namespace of the Applications.", "argocd"),
                _p("timeout", "Seconds to wait for Argo CD.", "600"),
                _p("canary", "namespace/name of the app's Flagger Canary (empty: the app has none).", ""),
                _p("digest", "Digest of the image pushed (what the canary must promote).", ""),
                _p("canary-timeout", "Seconds to wait for the canary's analysis.", "1800"),
                _p("interval", "Seconds between two looks.", "5"),
                _p("kube-api", "Kubernetes API server URL.", "https://kubernetes.default.svc")],
        workspaces=[_ws("kube-api", "A projected ServiceAccount token (token) and the cluster CA (ca.crt).")],
        steps=[Step(name="wait", image=versions.image_python, security_context=NON_ROOT, env=_env(
            APPLICATION="$(params.application)", REVISION="$(params.revision)",
            ARGOCD_NAMESPACE="$(params.argocd-namespace)", TIMEOUT_SECONDS="$(params.timeout)",
            CANARY="$(params.canary)", DIGEST="$(params.digest)", CANARY_TIMEOUT_SECONDS="$(params.canary-timeout)",
            INTERVAL_SECONDS="$(params.interval)",
            KUBE_API="$(params.kube-api)", KUBE_API_DIR="$(workspaces.kube-api.path)"),
            script=python_script("wait_for_deploy"))]))


def release_gate(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=RELEASE_GATE, namespace=namespace), spec=TaskSpec(
        description="Read-only: release a version only when the source environment runs it and it passed there "
                    "(a canary app: its Canary Succeeded with the primary running it; any other app: its "
                    "Application is Synced and Healthy with that image).",
        params=[_p("application", "Argo CD Application of the app in this cluster."),
                _p("argocd-namespace", "Namespace of the Applications.", "argocd"),
                _p("image", "Image repository."), _p("reference", "The image released: @sha256:... or :tag."),
                _p("source-overlay", "The overlay the Application must deploy (the source environment's)."),
                _p("canary", "namespace/name of the app's Flagger Canary (empty: the app has none).", ""),
                _p("kube-api", "Kubernetes API server URL.", "https://kubernetes.default.svc")],
        workspaces=[_ws("kube-api", "A projected ServiceAccount token (token) and the cluster CA (ca.crt).")],
        steps=[Step(name="gate", image=versions.image_python, security_context=NON_ROOT, env=_env(
            APPLICATION="$(params.application)", ARGOCD_NAMESPACE="$(params.argocd-namespace)",
            IMAGE="$(params.image)", REFERENCE="$(params.reference)", SOURCE_OVERLAY="$(params.source-overlay)",
            CANARY="$(params.canary)", KUBE_API="$(params.kube-api)", KUBE_API_DIR="$(workspaces.kube-api.path)"),
            script=python_script("release_gate"))]))


def release_source(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=RELEASE_SOURCE, namespace=namespace), spec=TaskSpec(
        description="Check the release version (semver) and read what the source overlay deploys: its digest, or "
                    "with Flux image updates its tag.",
        params=[_p("image", "Image repository."), _p("version", "Release version."),
                _p("source-overlay", "Overlay whose image is released."),
                _p("image-updates", "tekton (overlays pin digests) or flux (overlays hold Flux's tags).")],
        workspaces=[_ws("config", "The config repo checkout.")],
        results=[_r("reference", "The image released: @sha256:... or :tag."),
                 _r("digest", "Its digest, when the overlay pins one.")],
        steps=[Step(name="read", image=versions.image_git, security_context=NON_ROOT, env=_env(
            CONFIG="$(workspaces.config.path)", IMAGE="$(params.image)", VERSION="$(params.version)",
            SOURCE_OVERLAY="$(params.source-overlay)", IMAGE_UPDATES="$(params.image-updates)",
            CREDENTIALS="$(credentials.path)", RESULT_REFERENCE="$(results.reference.path)", RESULT_DIGEST="$(results.digest.path)"),
            script=shell_script("release_source.sh"))]))


def tag_image(versions: Versions, namespace: str) -> Task:
    script = """\
#!/bin/sh
set -eu
HOME="$(mktemp -d)"; export HOME
set -- --all --digestfile "$DIGEST_FILE"
if [ "$TLS_VERIFY" = false ]; then set -- "$@" --src-tls-verify=false --dest-tls-verify=false; fi
if [ "$AUTH_BOUND" = true ]; then
  # The registry Secret, mounted with its key as config.json (or whole, as .dockerconfigjson).
  auth="$AUTH_DIR/config.json"
  [ -f "$auth" ] || auth="$AUTH_DIR/.dockerconfigjson"
  set -- "$@" --authfile "$auth"
fi
skopeo copy "$@" "docker://$IMAGE$REFERENCE" "docker://$IMAGE:$TAG"
echo "tagged $IMAGE$REFERENCE as $IMAGE:$TAG ($(cat "$DIGEST_FILE"))"
"""
    return Task(metadata=ObjectMeta(name=TAG_IMAGE, namespace=namespace), spec=TaskSpec(
        description="Tag an image (by digest or tag) with the release version, in its own repository (skopeo copy).",
        params=[_p("image", "Image repository."), _p("reference", "The image: @sha256:... or :tag."),
                _p("tag", "The new tag (the release version)."),
                _p("tls-verify", "\"false\" for a registry served over plain HTTP.", "true")],
        workspaces=[_ws("dockerconfig", "A docker config.json with push credentials.", optional=True)],
        results=[_r("digest", "Digest of the tagged image.")],
        steps=[Step(name="tag", image=versions.image_skopeo, security_context=NON_ROOT, script=script, env=_env(
            IMAGE="$(params.image)", REFERENCE="$(params.reference)", TAG="$(params.tag)",
            TLS_VERIFY="$(params.tls-verify)", DIGEST_FILE="$(results.digest.path)",
            AUTH_BOUND="$(workspaces.dockerconfig.bound)", AUTH_DIR="$(workspaces.dockerconfig.path)"))]))


def promote_release(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=PROMOTE_RELEASE, namespace=namespace), spec=TaskSpec(
        description="Generate the release branch from the base branch's head: the target overlay set to the "
                    "release, committed with trailers and force-pushed with a lease (or left alone when it is "
                    "already exactly that).",
        params=[_p("app", "App released."), _p("image", "Image repository."), _p("version", "Release version."),
                _p("digest", "Digest released (empty with Flux tags: the tag alone is set)."),
                _p("source-overlay", "Overlay the release comes from."),
                _p("target-overlay", "Overlay to promote to."), _p("branch", "Release branch."),
                _p("base", "Base branch of the release (the pull request's target)."),
                _p("image-updates", "tekton or flux."), _p("run", "namespace/name of the PipelineRun."),
                *GIT_IDENTITY],
        workspaces=[_ws("config", "The config repo checkout (of the base branch).")],
        results=[_r("commit", "Head of the release branch (empty when the base already deploys the release)."),
                 _r("changed", "\"true\" when the release branch holds a change to promote.")],
        steps=[Step(name="promote", image=versions.image_git, security_context=NON_ROOT, env=_git_env(
            "CONFIG", APP="$(params.app)", IMAGE="$(params.image)", VERSION="$(params.version)",
            DIGEST="$(params.digest)", SOURCE_OVERLAY="$(params.source-overlay)",
            TARGET_OVERLAY="$(params.target-overlay)", BRANCH="$(params.branch)", BASE="$(params.base)",
            IMAGE_UPDATES="$(params.image-updates)", RUN="$(params.run)",
            RESULT_COMMIT="$(results.commit.path)", RESULT_CHANGED="$(results.changed.path)"),
            script=shell_script("promote.sh"))]))


def open_pull_request(versions: Versions, namespace: str, secret: str, key: str) -> Task:
    return Task(metadata=ObjectMeta(name=OPEN_PULL_REQUEST, namespace=namespace), spec=TaskSpec(
        description="Open the pull request that promotes a release (GitHub or Gitea API; an existing one for the "
                    "same branches counts as done, any other refusal fails with the server's message).",
        params=[_p("api-url", "API base URL (https://api.github.com, or https://<gitea>/api/v1)."),
                _p("flavor", "github or gitea.", "github"),
                _p("auth", "token (a personal access token) or basic (the user name and password).", "token"),
                _p("repository", "owner/name of the config repo."), _p("head", "Branch with the changes."),
                _p("base", "Branch to merge into."), _p("title", "Pull request title."),
                _p("body", "Pull request description.", "")],
        results=[_r("url", "URL of the pull request.")],
        steps=[Step(name="open", image=versions.image_python, security_context=NON_ROOT, env=[
            *_env(API_URL="$(params.api-url)", FLAVOR="$(params.flavor)", AUTH="$(params.auth)",
                  REPOSITORY="$(params.repository)",
                  HEAD="$(params.head)", BASE="$(params.base)", TITLE="$(params.title)", BODY="$(params.body)",
                  RESULT_URL="$(results.url.path)"),
            _secret_env("TOKEN", secret, key), _secret_env("USERNAME", secret, "username")],
            script=python_script("open_pull_request"))]))
