# shellcheck shell=sh
# gitops-ci: deploy the image just built by writing its digest into the app's overlay, commit, push.
#
# Two builds of one app can run at once. When the push loses that race, the edit is re-applied on the
# fresh remote head (never `git pull --rebase`, which stops on the conflicting line) and pushed again,
# a bounded number of times. Before every attempt the overlay's own record of what it deploys (a comment
# on the digest line: source commit and its commit time) is read, so a build never replaces the image
# of a newer source commit with an older one.
git_in "$CONFIG"
printf '%s' "$DIGEST" | grep -Eq '^sha256:[0-9a-f]{64}$' || fail "the build reported no image digest ('$DIGEST'): nothing to deploy"
case "$SOURCE_TIME" in ''|*[!0-9]*) fail "source commit time '$SOURCE_TIME' is not a number of seconds" ;; esac
write "$RESULT_COMMIT" ""
write "$RESULT_BEFORE" ""
write "$RESULT_FILE" ""
note="source $SOURCE_REVISION $SOURCE_TIME"
attempt=1
while :; do
  file="$(kustomization_file "$OVERLAY")"
  entry="$(image_get "$file" "$IMAGE")" || { status=$?; [ "$status" -eq 3 ] || exit "$status"; entry=""; }
  deployed_digest="$(field "$entry" 3)"
  # shellcheck disable=SC2046  # the note is "source <commit> <time>": split it into words
  set -- $(field "$entry" 4)
  if [ "$deployed_digest" = "$DIGEST" ]; then
    echo "$file already deploys $IMAGE@$DIGEST: nothing to commit"
    break
  fi
  if [ "${1:-}" = source ] && [ "${2:-}" != "$SOURCE_REVISION" ] && [ -n "${3:-}" ] && [ "$3" -gt "$SOURCE_TIME" ]; then
    echo "$file deploys source commit $2 (committed at $3), newer than $SOURCE_REVISION ($SOURCE_TIME): not replacing it with an older build"
    break
  fi
  image_set "$file" "$IMAGE" "$VERSION" "$DIGEST" "$note"
  git add -- "$file"
  git commit -q -F - <<EOF
$APP: deploy $IMAGE:$VERSION@$DIGEST

Built from $SOURCE_URL at $SOURCE_REVISION by PipelineRun $RUN.

Source-Repository: $SOURCE_URL
Source-Commit: $SOURCE_REVISION
Image: $IMAGE:$VERSION@$DIGEST
Tekton-PipelineRun: $RUN
EOF
  before="$(git rev-parse HEAD~1)"
  if out="$(git push origin "HEAD:refs/heads/$BRANCH" 2>&1)"; then
    printf '%s\n' "$out"
    write "$RESULT_COMMIT" "$(git rev-parse HEAD)"
    write "$RESULT_BEFORE" "$before"
    write "$RESULT_FILE" "$file"
    echo "pushed $(git rev-parse HEAD) to $BRANCH: $IMAGE:$VERSION@$DIGEST"
    break
  fi
  printf '%s\n' "$out" >&2
  push_lost_race "$out" || fail "the push to $BRANCH was refused, and not because another push got there first (see git's message above)"
  [ "$attempt" -lt "$MAX_ATTEMPTS" ] || fail "the push to $BRANCH still lost to other pushes after $attempt attempts"
  attempt=$((attempt + 1))
  echo "another push moved $BRANCH: applying the change again on its new head (attempt $attempt of $MAX_ATTEMPTS)"
  sleep "$attempt"
  git fetch -q --depth=1 origin "refs/heads/$BRANCH"
  git reset -q --hard FETCH_HEAD
done
