#!/usr/bin/env bash
# The newcomer demo: loads samples/ into a local CleverTap sandbox through Meltano, then shows
# what arrived and what was rejected. Sets itself up on first use (a minute or two); later runs
# take seconds. Everything it writes goes to output/demo/ (gitignored), fresh each run.
set -euo pipefail
# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
setup_all
cd "$REPO_ROOT"

OUT="$REPO_ROOT/output/demo"
SANDBOX_DB="$OUT/sandbox.db"
REJECTS="$OUT/rejected_records.jsonl"
SANDBOX_PID=""

stop_sandbox() {
    if [[ -n "$SANDBOX_PID" ]] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
        kill "$SANDBOX_PID"
        wait "$SANDBOX_PID" 2>/dev/null || true
    fi
    SANDBOX_PID=""
}
trap stop_sandbox EXIT

start_sandbox() {
    rm -rf "$OUT" && mkdir -p "$OUT"
    # Same credentials as the `sandbox` environment of meltano.yml.
    clevertap-sandbox --port 0 --port-file "$OUT/sandbox.port" --db "$SANDBOX_DB" \
        --account-id SANDBOX-ACCOUNT --passcode sandbox-passcode >"$OUT/sandbox.log" 2>&1 &
    SANDBOX_PID=$!
    local waited=0
    until [[ -s "$OUT/sandbox.port" ]]; do
        if ! kill -0 "$SANDBOX_PID" 2>/dev/null || ((waited >= 300)); then
            log "clevertap-sandbox did not start; its log ($OUT/sandbox.log):"
            cat "$OUT/sandbox.log" >&2
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    export CLEVERTAP_SANDBOX_PORT
    CLEVERTAP_SANDBOX_PORT="$(cat "$OUT/sandbox.port")"
    log "sandbox listening on http://127.0.0.1:$CLEVERTAP_SANDBOX_PORT (database $SANDBOX_DB)"
}

# --full-refresh: tap-jsonl reads whole files anyway, and each demo starts from an empty sandbox.
run_pipeline() {
    log "meltano --environment=sandbox run samples-to-clevertap"
    # The event ledger lives in output/demo/, wiped each run, so a repeated demo sends its
    # events again (a real project keeps its ledger; see meltano.yml's production environment).
    TARGET_CLEVERTAP_REJECTED_RECORDS_PATH="$REJECTS" \
        TARGET_CLEVERTAP_EVENT_LEDGER_PATH="$OUT/event_ledger.db" \
        "$MELTANO_BIN" --log-level=warning --environment=sandbox run --full-refresh samples-to-clevertap
}

summarise_rejects() {
    python - "$REJECTS" <<'PY'
import collections, json, pathlib, sys

path = pathlib.Path(sys.argv[1])
entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
print(f"\n{len(entries)} rejected record(s) in {path}")
reasons = collections.Counter((e["stream"], e["source"], e["code"], e["error"]) for e in entries)
for (stream, source, code, error), count in sorted(reasons.items(), key=str):
    print(f"  {count} x {stream}: [{source} {code}] {error}")
PY
}

start_sandbox
status=0
run_pipeline || status=$?
stop_sandbox

echo
log "what the sandbox stored (clevertap-sandbox show --db $SANDBOX_DB)"
clevertap-sandbox show --db "$SANDBOX_DB"
summarise_rejects
if ((status != 0)); then
    log "the Meltano run failed (exit $status); see the output above"
fi
exit "$status"
