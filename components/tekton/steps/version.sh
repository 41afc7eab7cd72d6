# shellcheck shell=sh
# The version of a source checkout: its short commit SHA (the image tag), the full SHA and its commit time.
cd "$SOURCE"
git config --global --add safe.directory "$SOURCE"
commit="$(git rev-parse --verify HEAD)" || fail "$SOURCE is not a git checkout with a commit"
short="$(git rev-parse --short=7 HEAD)"
time="$(git log -1 --format=%ct HEAD)"
case "$short$time" in *[!0-9a-f]*|'') fail "could not read the commit of $SOURCE ('$short', '$time')" ;; esac
write "$RESULT_VERSION" "$short"
write "$RESULT_COMMIT" "$commit"
write "$RESULT_TIME" "$time"
echo "version $short ($commit, committed at $time)"
