#!/bin/sh
# Seed the embedded Git server, step 2 (git image): push each repo's seed content, but only into a repo
# that has no branch yet. A repo with any commit (a user's, or an earlier seed) is left alone, and the
# push is a plain fast-forward-only push, so a race with a user's first push can never overwrite it.
# Inputs from the environment: GIT_BASE, GIT_USER, GIT_PASSWORD, REPOS (in push order), SEED_DIR holding
# <repo>.tar.gz for each.
set -eu
HOME="$(mktemp -d)"; export HOME
umask 077
host="${GIT_BASE#*://}"
# The password goes to git's credential store, never into a URL or an argument.
printf '%s://%s:%s@%s\n' "${GIT_BASE%%://*}" "$GIT_USER" "$GIT_PASSWORD" "$host" > "$HOME/.git-credentials"
git config --global credential.helper store
git config --global init.defaultBranch main
git config --global user.name "gitops-platform seed"
git config --global user.email "seed@gitops-platform.local"
for repo in $REPOS; do
  url="$GIT_BASE/$GIT_USER/$repo.git"
  if [ -n "$(git ls-remote --heads "$url")" ]; then
    echo "$GIT_USER/$repo already has commits: left alone"
    continue
  fi
  work="$HOME/$repo"
  mkdir -p "$work"
  tar -xzf "$SEED_DIR/$repo.tar.gz" -C "$work"
  git -C "$work" init -q
  git -C "$work" add -A
  git -C "$work" commit -q -m "Seed $repo from gitops-platform's examples"
  git -C "$work" push -q "$url" HEAD:refs/heads/main
  echo "seeded $GIT_USER/$repo ($(git -C "$work" rev-parse --short HEAD))"
done
