#!/usr/bin/env bash
# Runs Tests/clients/openai_client.py (official `openai` package, in a venv) against `phigate serve`
# pointed at `phigate dev fake-upstream`, both on free loopback ports, then openai_local_client.py against the
# same gateway's local backend (the tiny phi-3 fixture model). Exit status: non-zero if either failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

CONFIGURATION="${PHIGATE_CLIENT_TEST_CONFIGURATION:-debug}"
VENV="${PHIGATE_CLIENT_VENV:-.build/clients-venv}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import openai" 2>/dev/null || "$VENV/bin/pip" install --quiet "openai>=1.40"

swift build -c "$CONFIGURATION" --product phigate
PHIGATE="$(swift build -c "$CONFIGURATION" --show-bin-path)/phigate"

"$PHIGATE" dev fake-upstream --port 0 >"$WORK/upstream.out" 2>"$WORK/upstream.err" &
PIDS+=($!)
for _ in $(seq 100); do
    grep -q "listening on" "$WORK/upstream.out" 2>/dev/null && break
    sleep 0.1
done
UPSTREAM_PORT="$(sed -n 's/^listening on //p' "$WORK/upstream.out")"
[ -n "$UPSTREAM_PORT" ] || { echo "fake upstream did not start"; cat "$WORK/upstream.err"; exit 1; }

LOCAL_MODEL="Tests/Fixtures/phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf"
GATEWAY_PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export PHIGATE_API_KEY="pg-client-test-key"
OPENAI_BASE_URL="http://127.0.0.1:$UPSTREAM_PORT/v1" \
ANTHROPIC_BASE_URL="http://127.0.0.1:$UPSTREAM_PORT/v1" \
OPENAI_API_KEY="sk-fake-openai" ANTHROPIC_API_KEY="sk-fake-anthropic" \
PHIGATE_LOCAL_MODEL="$LOCAL_MODEL" PHIGATE_LOCAL_THREADS=2 \
PHIGATE_HOST=127.0.0.1 PHIGATE_PORT="$GATEWAY_PORT" PHIGATE_DB="$WORK/phigate.sqlite" PHIGATE_LOG_LEVEL=info \
    "$PHIGATE" serve --config config/phigate.yaml >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
# /readyz answers 200 once the local model has loaded.
for _ in $(seq 300); do
    "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "http://127.0.0.1:$GATEWAY_PORT/readyz" 2>/dev/null && break
    sleep 0.1
done

status=0
PHIGATE_URL="http://127.0.0.1:$GATEWAY_PORT/v1" "$VENV/bin/python" Tests/clients/openai_client.py || status=$?
PHIGATE_URL="http://127.0.0.1:$GATEWAY_PORT/v1" PHIGATE_BIN="$PHIGATE" PHIGATE_LOCAL_MODEL="$LOCAL_MODEL" \
    "$VENV/bin/python" Tests/clients/openai_local_client.py || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- gateway log"; cat "$WORK/gateway.log"
fi
exit "$status"
