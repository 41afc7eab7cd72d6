"""The Tasks the platform defines itself, as typed `tekton.dev/v1` models with pinned images.

Parameters reach scripts through environment variables, never by `$(params.x)` inside the script text,
so a value can never become shell code. Steps that write into a workspace cloned by the catalog
`git-clone` task run as its user (65532) or as root, because the clone is owned by that user.
"""
from __future__ import annotations

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
from components.versions import Versions

GIT_CLONE_UID = 65532  # the user the catalog git-clone task runs as, owner of the cloned files

# Task names, referenced by the pipelines.
GIT_VERSION = "git-version"
RUN_TESTS = "run-tests"
KUSTOMIZE_SET_IMAGE = "kustomize-set-image"
YQ_UPDATE = "yq-update"
GIT_COMMIT_PUSH = "git-commit-push"
EXTRACT_DIGEST = "extract-digest"
TAG_IMAGE = "tag-image"
GITHUB_OPEN_PR = "github-open-pr"
ARGOCD_SYNC = "argocd-sync"

# Git steps run as root in alpine/git on a clone owned by another user: mark it safe, and pick up the
# credentials Tekton wrote from pipeline-bot's annotated Secrets (basic-auth or ssh-auth).
GIT_PRELUDE = """\
#!/bin/sh
set -eu
if [ -d /tekton/creds ]; then cp -R /tekton/creds/. "$HOME"/; fi
git config --global --add safe.directory "$SOURCE"
cd "$SOURCE"
"""


def _env(**values: str) -> list[EnvVar]:
    return [EnvVar(name=name, value=value) for name, value in values.items()]


def _source() -> list[WorkspaceDeclaration]:
    return [WorkspaceDeclaration(name="source", description="A git checkout (the source or the config repo).")]


def git_version(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=GIT_VERSION, namespace=namespace), spec=TaskSpec(
        description="The version of a checkout: its short commit SHA.",
        workspaces=_source(),
        results=[TaskResult(name="version", description="Short (7 character) SHA of HEAD.")],
        steps=[Step(name="version", image=versions.image_git, env=_env(SOURCE="$(workspaces.source.path)"),
                    script=GIT_PRELUDE + 'printf %s "$(git rev-parse --short=7 HEAD)" > "$(results.version.path)"\n'
                    'cat "$(results.version.path)"\n')]))


def run_tests(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=RUN_TESTS, namespace=namespace), spec=TaskSpec(
        description="Run the source repo's tests with a shell script in a chosen (pinned) image.",
        params=[ParamSpec(name="image", type="string", default=versions.image_test_runner,
                          description="Image with the toolchain the tests need (exact tag or digest)."),
                ParamSpec(name="script", type="string", description="Shell script run in the checkout.")],
        workspaces=_source(),
        steps=[Step(name="test", image="$(params.image)", working_dir="$(workspaces.source.path)",
                    env=_env(TEST_SCRIPT="$(params.script)"),
                    script='#!/bin/sh\nset -eu\nsh -euc "$TEST_SCRIPT"\n')]))


def kustomize_set_image(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=KUSTOMIZE_SET_IMAGE, namespace=namespace), spec=TaskSpec(
        description="`kustomize edit set image NAME=NEW@DIGEST` in an overlay of the config repo.",
        params=[ParamSpec(name="overlay-path", type="string", description="Overlay directory in the repo."),
                ParamSpec(name="image-name", type="string", description="Image name used in the manifests."),
                ParamSpec(name="new-image", type="string", description="Image repository to deploy."),
                ParamSpec(name="digest", type="string", description="Digest to deploy (sha256:...).")],
        workspaces=_source(),
        # The image's entrypoint is kustomize; as root it can write the clone owned by git-clone's user.
        steps=[Step(name="set-image", image=versions.image_kustomize,
                    working_dir="$(workspaces.source.path)/$(params.overlay-path)",
                    args=["edit", "set", "image", "$(params.image-name)=$(params.new-image)@$(params.digest)"],
                    security_context=StepSecurityContext(run_as_user=0))]))


def yq_update(versions: Versions, namespace: str) -> Task:
    return Task(metadata=ObjectMeta(name=YQ_UPDATE, namespace=namespace), spec=TaskSpec(
        description="Set one YAML path in a file of the config repo to a string value.",
        params=[ParamSpec(name="file", type="string", description="File, relative to the repo root."),
                ParamSpec(name="path", type="string", description="yq path, e.g. .metadata.labels.release"),
                ParamSpec(name="value", type="string", description="String value to set.")],
        workspaces=_source(),
        # strenv() keeps the value data, never yq syntax.
        steps=[Step(name="update", image=versions.image_yq, working_dir="$(workspaces.source.path)",
                    env=_env(VALUE="$(params.value)"),
                    args=["--inplace", "$(params.path) = strenv(VALUE)", "$(params.file)"],
                    security_context=StepSecurityContext(run_as_user=GIT_CLONE_UID))]))


def git_commit_push(versions: Versions, namespace: str) -> Task:
    script = GIT_PRELUDE + """\
git config user.name "$GIT_USER_NAME"
git config user.email "$GIT_USER_EMAIL"
if [ "$CREATE_BRANCH" = "true" ]; then git checkout -B "$BRANCH"; fi
git add -- "$CHANGED_PATH"
if git diff --cached --quiet; then
  echo "nothing changed in $CHANGED_PATH: $IMAGE@$DIGEST is already there"
else
  git commit -m "$APP: deploy $IMAGE@$DIGEST" -m "$DETAILS" -m "Pushed by the gitops-platform pipeline-bot."
fi
# Another pipeline may have pushed meanwhile: rebase onto it and try again (non-fast-forward).
attempt=1
until git push origin "HEAD:refs/heads/$BRANCH"; do
  if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then
    echo "push to $BRANCH still rejected after $attempt attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "$attempt"
  git pull --rebase origin "$BRANCH"
done
printf %s "$(git rev-parse HEAD)" > "$(results.commit.path)"
echo "pushed $(cat "$(results.commit.path)") to $BRANCH"
"""
    return Task(metadata=ObjectMeta(name=GIT_COMMIT_PUSH, namespace=namespace), spec=TaskSpec(
        description="Commit a changed path of the config repo (message naming app, image and digest) and push, "
                    "rebasing and retrying when the push is not a fast-forward.",
        params=[ParamSpec(name="app", type="string", description="App name, for the commit message."),
                ParamSpec(name="image", type="string", description="Image repository deployed."),
                ParamSpec(name="digest", type="string", description="Image digest deployed."),
                ParamSpec(name="path", type="string", description="Path to add, relative to the repo root."),
                ParamSpec(name="branch", type="string", description="Branch to push to."),
                ParamSpec(name="create-branch", type="string", default="false",
                          description="\"true\" to create (or reset) the branch at HEAD before committing."),
                ParamSpec(name="details", type="string", default="", description="Extra commit message paragraph."),
                ParamSpec(name="max-attempts", type="string", default="5", description="Push attempts."),
                ParamSpec(name="user-name", type="string", description="Commit author name."),
                ParamSpec(name="user-email", type="string", description="Commit author email.")],
        workspaces=_source(),
        results=[TaskResult(name="commit", description="SHA of the commit pushed.")],
        steps=[Step(name="commit-push", image=versions.image_git, env=_env(
            SOURCE="$(workspaces.source.path)", APP="$(params.app)", IMAGE="$(params.image)",
            DIGEST="$(params.digest)", CHANGED_PATH="$(params.path)", BRANCH="$(params.branch)",
            CREATE_BRANCH="$(params.create-branch)", DETAILS="$(params.details)",
            MAX_ATTEMPTS="$(params.max-attempts)", GIT_USER_NAME="$(params.user-name)",
            GIT_USER_EMAIL="$(params.user-email)"), script=script)]))


def extract_digest(versions: Versions, namespace: str) -> Task:
    script = """\
#!/bin/sh
set -eu
file="$SOURCE/$OVERLAY/kustomization.yaml"
digest="$(yq '(.images[] | select(.name == strenv(IMAGE_NAME)) | .digest) // ""' "$file")"
case "$digest" in
  sha256:*) printf %s "$digest" > "$(results.digest.path)"; echo "$IMAGE_NAME@$digest" ;;
  *) echo "$file sets no digest for $IMAGE_NAME (run gitops-ci on the deploy branch first)" >&2; exit 1 ;;
esac
"""
    return Task(metadata=ObjectMeta(name=EXTRACT_DIGEST, namespace=namespace), spec=TaskSpec(
        description="The digest an overlay's kustomization.yaml deploys for an image.",
        params=[ParamSpec(name="overlay-path", type="string", description="Overlay directory in the repo."),
                ParamSpec(name="image-name", type="string", description="Image name in `images:`.")],
        workspaces=_source(),
        results=[TaskResult(name="digest", description="The image digest (sha256:...).")],
        steps=[Step(name="extract", image=versions.image_yq, script=script, env=_env(
            SOURCE="$(workspaces.source.path)", OVERLAY="$(params.overlay-path)",
            IMAGE_NAME="$(params.image-name)"))]))


def tag_image(versions: Versions, namespace: str) -> Task:
    script = """\
#!/bin/sh
set -eu
if [ "$AUTH_BOUND" = "true" ]; then
  # The registry Secret mounted whole (.dockerconfigjson) or with its key renamed (config.json).
  auth="$AUTH_DIR/config.json"
  if [ ! -f "$auth" ]; then auth="$AUTH_DIR/.dockerconfigjson"; fi
  skopeo copy --all --authfile "$auth" "docker://$IMAGE@$DIGEST" "docker://$IMAGE:$TAG"
else
  skopeo copy --all "docker://$IMAGE@$DIGEST" "docker://$IMAGE:$TAG"
fi
"""
    return Task(metadata=ObjectMeta(name=TAG_IMAGE, namespace=namespace), spec=TaskSpec(
        description="Tag an image digest in its registry (skopeo copy within the repository).",
        params=[ParamSpec(name="image", type="string", description="Image repository."),
                ParamSpec(name="digest", type="string", description="Digest to tag."),
                ParamSpec(name="tag", type="string", description="The new tag (the release version).")],
        workspaces=[WorkspaceDeclaration(name="dockerconfig", optional=True,
                                         description="A docker config.json with push credentials.")],
        steps=[Step(name="tag", image=versions.image_skopeo, script=script, env=_env(
            IMAGE="$(params.image)", DIGEST="$(params.digest)", TAG="$(params.tag)",
            AUTH_BOUND="$(workspaces.dockerconfig.bound)", AUTH_DIR="$(workspaces.dockerconfig.path)"))]))


def github_open_pr(versions: Versions, namespace: str, token_secret: str, token_key: str) -> Task:
    script = r"""#!/bin/sh
set -eu
json() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr '\n\r\t' '   '; }
body="{\"title\":\"$(json "$TITLE")\",\"head\":\"$(json "$HEAD")\",\"base\":\"$(json "$BASE")\",\"body\":\"$(json "$BODY")\"}"
status="$(curl -sS -o /tmp/response.json -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $GITHUB_TOKEN" -H "Accept: application/vnd.github+json" \
  -H "X-GitHub-Api-Version: 2022-11-28" --data "$body" "$API_URL/repos/$REPOSITORY/pulls")"
url="$(grep -o '"html_url": *"[^"]*/pull/[0-9]*"' /tmp/response.json | head -n 1 | sed 's/.*"\(http[^"]*\)"/\1/')"
case "$status" in
  201) printf %s "$url" > "$(results.url.path)"; echo "opened $url" ;;
  422) echo "GitHub refused a new pull request (one may already exist for $HEAD):" >&2; cat /tmp/response.json >&2
       printf %s "" > "$(results.url.path)" ;;
  *) echo "GitHub API answered $status:" >&2; cat /tmp/response.json >&2; exit 1 ;;
esac
"""
    return Task(metadata=ObjectMeta(name=GITHUB_OPEN_PR, namespace=namespace), spec=TaskSpec(
        description="Open a GitHub pull request (the promotion of a release), with the token from a Secret.",
        params=[ParamSpec(name="api-url", type="string", default="https://api.github.com",
                          description="GitHub API base URL."),
                ParamSpec(name="repository", type="string", description="owner/name of the config repo."),
                ParamSpec(name="head", type="string", description="Branch with the changes."),
                ParamSpec(name="base", type="string", description="Branch to merge into."),
                ParamSpec(name="title", type="string", description="Pull request title."),
                ParamSpec(name="body", type="string", default="", description="Pull request description.")],
        results=[TaskResult(name="url", description="URL of the pull request opened (empty if it existed).")],
        steps=[Step(name="open-pr", image=versions.image_curl, script=script, env=[
            *_env(API_URL="$(params.api-url)", REPOSITORY="$(params.repository)", HEAD="$(params.head)",
                  BASE="$(params.base)", TITLE="$(params.title)", BODY="$(params.body)"),
            EnvVar(name="GITHUB_TOKEN", value_from=EnvVarSource(
                secret_key_ref=SecretKeySelector(name=token_secret, key=token_key)))])]))


def argocd_sync(versions: Versions, namespace: str, token_secret: str, token_key: str) -> Task:
    script = """\
#!/bin/sh
set -eu
flags="--grpc-web"
if [ "$INSECURE" = "true" ]; then flags="$flags --insecure"; fi
argocd app sync "$APP" $flags
argocd app wait "$APP" --health --timeout "$TIMEOUT" $flags
"""
    return Task(metadata=ObjectMeta(name=ARGOCD_SYNC, namespace=namespace), spec=TaskSpec(
        description="Ask Argo CD to sync an Application now and wait until it is healthy (token from a Secret).",
        params=[ParamSpec(name="application", type="string", description="Argo CD Application name."),
                ParamSpec(name="server", type="string", description="Argo CD API server host:port."),
                ParamSpec(name="insecure", type="string", default="false",
                          description="\"true\" skips verifying the server's TLS certificate."),
                ParamSpec(name="timeout", type="string", default="300", description="Seconds to wait.")],
        steps=[Step(name="sync", image=versions.image_argocd, script=script, env=[
            *_env(APP="$(params.application)", ARGOCD_SERVER="$(params.server)", INSECURE="$(params.insecure)",
                  TIMEOUT="$(params.timeout)"),
            EnvVar(name="ARGOCD_AUTH_TOKEN", value_from=EnvVarSource(
                secret_key_ref=SecretKeySelector(name=token_secret, key=token_key)))])]))
