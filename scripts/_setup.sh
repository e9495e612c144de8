# shellcheck shell=bash
# Shared, idempotent setup for scripts/test.sh and scripts/demo.sh. Source it; do not run it.
#
# Creates (all gitignored):
#   .venv/           the project's dev virtualenv: target-clevertap (editable) + test tools
#   .venv-meltano/   Meltano and uv, kept apart from the target's dependencies
#   .meltano/        Meltano's plugin virtualenvs (made with uv) and its system database
# Each step re-runs only when the files it depends on change (a stamp holds their hash).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV_VENV="$REPO_ROOT/.venv"
MELTANO_VENV="$REPO_ROOT/.venv-meltano"
MELTANO_REQUIREMENT='meltano>=4.4,<5'
UV_REQUIREMENT='uv>=0.5'

export MELTANO_BIN="$MELTANO_VENV/bin/meltano"
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '==> %s\n' "$*" >&2; }

# quietly LOGFILE COMMAND...: run COMMAND with its output in LOGFILE, shown only if it fails.
quietly() {
    local logfile="$1"; shift
    if ! "$@" >"$logfile" 2>&1; then
        cat "$logfile" >&2
        log "failed: $* (output above, also in $logfile)"
        return 1
    fi
}

# The hash of the given files plus any extra words, to tell whether a step is up to date.
inputs_hash() {
    local extra="$1"; shift
    { printf '%s\n' "$extra"; cat "$@"; } | sha256sum | cut -d' ' -f1
}

# run_once STAMP HASH COMMAND...: run COMMAND unless STAMP already holds HASH.
run_once() {
    local stamp="$1" hash="$2"; shift 2
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
        return 0
    fi
    "$@"
    printf '%s\n' "$hash" >"$stamp"
}

make_venv() {
    local dir="$1"
    if [[ ! -x "$dir/bin/python" ]]; then
        log "creating virtualenv $dir"
        python3 -m venv "$dir"
    fi
}

install_dev_venv() {
    log "installing target-clevertap and test tools into .venv"
    quietly "$DEV_VENV/setup.log" "$DEV_VENV/bin/python" -m pip install -e "${REPO_ROOT}[test]"
}

install_meltano_venv() {
    log "installing $MELTANO_REQUIREMENT and uv into .venv-meltano"
    quietly "$MELTANO_VENV/setup.log" \
        "$MELTANO_VENV/bin/python" -m pip install --upgrade "$MELTANO_REQUIREMENT" "$UV_REQUIREMENT"
}

install_meltano_plugins() {
    log "installing Meltano plugins (uv) into .meltano/"
    (cd "$REPO_ROOT" && quietly "$REPO_ROOT/.meltano/install.log" "$MELTANO_BIN" install)
}

setup_dev_venv() {
    make_venv "$DEV_VENV"
    run_once "$DEV_VENV/.setup-stamp" "$(inputs_hash dev "$REPO_ROOT/pyproject.toml")" install_dev_venv
}

setup_meltano() {
    make_venv "$MELTANO_VENV"
    run_once "$MELTANO_VENV/.setup-stamp" "$(inputs_hash "$MELTANO_REQUIREMENT $UV_REQUIREMENT" /dev/null)" \
        install_meltano_venv
    mkdir -p "$REPO_ROOT/.meltano"
    run_once "$REPO_ROOT/.meltano/.plugins-stamp" \
        "$(inputs_hash plugins "$REPO_ROOT/meltano.yml" "$REPO_ROOT/pyproject.toml")" install_meltano_plugins
}

# Everything test.sh and demo.sh need; puts the dev venv first on PATH.
setup_all() {
    setup_dev_venv
    setup_meltano
    export PATH="$DEV_VENV/bin:$PATH"
}
