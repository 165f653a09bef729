#!/usr/bin/env bash
# The Python half of the suite (scripts/test.sh runs it after `cargo test`): builds the
# `kimera` package (crates/kimera-py) into a cached virtualenv and runs its pytest suite
# against the CLI, including kimera.ray on a local Ray cluster.
#
# The venv lives in ${KIMERA_TEST_VENV:-~/.cache/kimera/test-venv} and is reused while
# the pinned requirements below do not change. Without python3 the tests are skipped
# with a notice, except under CI (CI=true), where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${KIMERA_TEST_PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1 || ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
    if [ "${CI:-}" = "true" ]; then
        echo "error: the Python tests need python3 >= 3.9 ($PYTHON not found or too old)" >&2
        exit 1
    fi
    echo "notice: python3 >= 3.9 not found: skipping the Python tests (crates/kimera-py)" >&2
    exit 0
fi

REQS="maturin>=1.7,<2 numpy pytest mypy ray"
VENV=${KIMERA_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kimera/test-venv}
STAMP="$VENV/.kimera-reqs"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$REQS" ]; then
    echo "== python: creating $VENV ($REQS)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $REQS
    echo "$REQS" > "$STAMP"
fi

TARGET=${CARGO_TARGET_DIR:-$PWD/target}
echo "== python: building the kimera CLI and package"
cargo build --quiet -p kimera-cli
(cd crates/kimera-py && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" CARGO_TARGET_DIR="$TARGET" \
    "$VENV/bin/maturin" develop --quiet)

echo "== python: pytest"
KIMERA_BIN="$TARGET/debug/kimera" KIMERA_PYTHON="$VENV/bin/python" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider crates/kimera-py/tests
