#!/usr/bin/env bash
# Compile the lock files: requirements.txt (runtime, what the Pulumi CLI installs into ./venv) from
# requirements.in, requirements-dev.txt (tests, lint, CI tools) from requirements-dev.in and the policy
# pack's policy/requirements.txt from policy/requirements.in, with every
# transitive dependency pinned and hashed for every platform (pip then installs in hash-checking mode).
#   bash tools/lock.sh             # re-resolve at the pins of the .in files (after you change one)
#   bash tools/lock.sh --upgrade   # also move transitive dependencies to their newest versions
# Needs uv (pip install uv==0.13.9, or https://docs.astral.sh/uv/); run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
# The header of each lock file is the exact uv command, so an update bot (Renovate's pip-compile manager)
# can re-run it.
# The dev set first; the runtime and the policy pack are then resolved within it (-c), so the tests run
# exactly the versions `pulumi up` and the policy pack run.
compile() {
  "$UV" pip compile --quiet --universal --python-version 3.11 --generate-hashes --annotation-style line "$@"
}
compile "${@}" requirements-dev.in -o requirements-dev.txt
compile "${@}" -c requirements-dev.txt requirements.in -o requirements.txt
compile "${@}" -c requirements-dev.txt policy/requirements.in -o policy/requirements.txt
