#!/usr/bin/env bash
# The test command: build a fresh virtualenv from the pinned requirements, lint, run the tests.
#   bash tools/test.sh [pytest args...]
# Uses ./venv (the same virtualenv Pulumi.yaml points the Pulumi CLI at). FRESH=1 rebuilds it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ "${FRESH:-0}" = 1 ] || [ ! -x venv/bin/python ] || ! cmp -s requirements-dev.txt venv/.requirements-dev.txt \
    || ! cmp -s requirements.txt venv/.requirements.txt; then
  rm -rf venv
  "$PY" -m venv venv
  venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
  cp requirements-dev.txt venv/.requirements-dev.txt
  cp requirements.txt venv/.requirements.txt
fi
venv/bin/python -m ruff check .
# The pinned tools the tests run for real (kustomize, yq, helm; etcd, kube-apiserver, kube-controller-manager,
# kubectl for tests/cluster), built from Go modules and cached by version.
if command -v go >/dev/null; then venv/bin/python -m tools.toolchain --group all; fi
venv/bin/python -m pytest "$@"
