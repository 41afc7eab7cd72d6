# shellcheck shell=sh
# Shared by the platform's git steps (alpine/git; /bin/sh is busybox ash). Every value a step needs
# comes in through the environment, never spliced into the script text.
set -eu

fail() { printf '%s\n' "$*" >&2; exit 1; }

# A private HOME: the image's own may not exist or be writable for the step's user (uid 65532).
HOME="$(mktemp -d)"
export HOME GIT_TERMINAL_PROMPT=0
# Tekton writes pipeline-bot's annotated git credentials (.gitconfig + .git-credentials, or .ssh) to
# $(credentials.path) and only copies them into HOME when it can; take them from there ourselves.
if [ -n "${CREDENTIALS:-}" ] && [ -d "$CREDENTIALS" ]; then
  cp -R "$CREDENTIALS/." "$HOME/"
  # ssh ignores $HOME (it reads the passwd entry's ~/.ssh, and Tekton's ~/.ssh/config says
  # IdentityFile ~/...): name the copied keys and known_hosts explicitly. Host keys are always checked.
  if [ -d "$HOME/.ssh" ]; then
    chmod 700 "$HOME/.ssh"
    GIT_SSH_COMMAND="ssh -F /dev/null -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$HOME/.ssh/known_hosts"
    for key in "$HOME"/.ssh/id_*; do
      if [ -f "$key" ]; then chmod 600 "$key"; GIT_SSH_COMMAND="$GIT_SSH_COMMAND -i $key"; fi
    done
    export GIT_SSH_COMMAND
  fi
fi

# Work in checkout $1. It belongs to git-clone's user (65532); a step running as another user must say
# it is safe. Commits are made as the pipeline's identity.
git_in() {
  cd "$1"
  git config --global --add safe.directory "$1"
  if [ -n "${GIT_USER_NAME:-}" ]; then
    git config --global user.name "$GIT_USER_NAME"
    git config --global user.email "$GIT_USER_EMAIL"
  fi
}

# The kustomization file of directory $1, looked up in kustomize's own order.
kustomization_file() {
  for name in kustomization.yaml kustomization.yml Kustomization; do
    if [ -f "$1/$name" ]; then printf '%s\n' "$1/$name"; return 0; fi
  done
  fail "$1 has no kustomization.yaml, kustomization.yml or Kustomization (is the overlay path right?)"
}

# image_get FILE IMAGE: "newName<TAB>newTag<TAB>digest<TAB>note" of IMAGE's images entry (exit 3: none).
image_get() { KI_OP=get KI_IMAGE="$2" awk "$KUSTOMIZE_IMAGES_AWK" "$1"; }

# image_set FILE IMAGE TAG DIGEST NOTE: edit only those lines of FILE (see kustomize_images.awk).
image_set() {
  KI_OP=set KI_IMAGE="$2" KI_TAG="$3" KI_DIGEST="$4" KI_NOTE="$5" awk "$KUSTOMIZE_IMAGES_AWK" "$1" > "$1.gitops-edit"
  cat "$1.gitops-edit" > "$1"   # in place, keeping the file's owner and mode
  rm -f "$1.gitops-edit"
}

# field N of a tab-separated line
field() { printf '%s\n' "$1" | cut -f "$2"; }

# True when a rejected push lost a race to another push (the remote moved): worth fetching and retrying.
# Anything else (bad credentials, a protected branch, a hook) is not, and is reported as it is.
push_lost_race() {
  printf '%s\n' "$1" | grep -Eq '\[rejected\].*\((fetch first|non-fast-forward|stale info)\)|\[remote rejected\].*(cannot lock ref|failed to update ref|incorrect old value|reference already exists)'
}

# write RESULT_PATH VALUE: results are written even when empty, so later tasks can always read them.
write() { printf '%s' "$2" > "$1"; }
