#!/usr/bin/env bash
# The project's test command: sets itself up (idempotently), then lint, format check,
# type check and the whole pytest suite, unit and end-to-end. Extra args go to pytest,
# e.g. scripts/test.sh -m e2e -x
set -euo pipefail
# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
setup_all
cd "$REPO_ROOT"

log "ruff check"
ruff check target_clevertap tests benchmarks
log "ruff format --check"
ruff format --check target_clevertap tests benchmarks
log "mypy"
mypy
log "pytest"
pytest tests "$@"
