# shellcheck shell=sh
# stage-release: check the release version, and read what the source environment's overlay deploys.
#
# With imageUpdates: tekton the overlay pins a digest (gitops-ci wrote it); with imageUpdates: flux it
# holds the tag Flux chose (and its `$imagepolicy` markers). Either is what gets released.
write "$RESULT_REFERENCE" ""
write "$RESULT_DIGEST" ""
# Semantic versioning 2.0.0 (an optional leading v), without build metadata: a registry tag cannot hold
# '+' (the OCI distribution spec's tag grammar is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}).
SEMVER='^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?$'
if ! printf '%s' "$VERSION" | grep -Eq "$SEMVER" || [ "${#VERSION}" -gt 128 ]; then
  fail "release version '$VERSION' is not a semantic version like 1.2.3 or 1.2.3-rc.1 (build metadata '+...' cannot be an image tag)"
fi
git_in "$CONFIG"
file="$(kustomization_file "$SOURCE_OVERLAY")"
entry="$(image_get "$file" "$IMAGE")" || { status=$?; [ "$status" -eq 3 ] || exit "$status"; entry=""; }
[ -n "$entry" ] || fail "$file has no images entry for $IMAGE: there is nothing to release (run gitops-ci on the deploy branch first)"
tag="$(field "$entry" 2)"
digest="$(field "$entry" 3)"
if [ -n "$digest" ]; then
  printf '%s' "$digest" | grep -Eq '^sha256:[0-9a-f]{64}$' || fail "$file pins $IMAGE to '$digest', which is not a sha256 digest"
  write "$RESULT_REFERENCE" "@$digest"
  write "$RESULT_DIGEST" "$digest"
  echo "$SOURCE_OVERLAY deploys $IMAGE@$digest${tag:+ (tag $tag)}"
elif [ "$IMAGE_UPDATES" = flux ] && [ -n "$tag" ]; then
  write "$RESULT_REFERENCE" ":$tag"
  echo "$SOURCE_OVERLAY deploys $IMAGE:$tag (chosen by Flux)"
else
  fail "$file sets no digest for $IMAGE${tag:+ (only the tag $tag)}: gitops-ci pins digests (imageUpdates: $IMAGE_UPDATES)"
fi
