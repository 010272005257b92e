#!/usr/bin/env bash
# A real `phigate serve` run end to end, then the CSV dashboards of what it logged:
#   fake upstream (phigate dev fake-upstream) for the OpenAI and Anthropic APIs, the tiny phi-3 fixture as the
#   local model, mixed traffic (routed `auto`, a private request, direct remote and local, streamed, errors),
#   quality feedback, then `phigate export`. Prints every CSV. Usage: scripts/demo-outcomes.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-$(mktemp -d)}"
mkdir -p "$OUT"
if [ -z "${PHIGATE_BIN:-}" ]; then
    swift build --product phigate >&2
    PHIGATE_BIN="$(swift build --show-bin-path)/phigate"
fi
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

"$PHIGATE_BIN" dev fake-upstream --port 0 >"$OUT/upstream.out" 2>"$OUT/upstream.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$OUT/upstream.out" 2>/dev/null && break; sleep 0.1; done
UPSTREAM_PORT="$(sed -n 's/^listening on //p' "$OUT/upstream.out")"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
OPENAI_BASE_URL="http://127.0.0.1:$UPSTREAM_PORT/v1" ANTHROPIC_BASE_URL="http://127.0.0.1:$UPSTREAM_PORT/v1" \
OPENAI_API_KEY=sk-demo ANTHROPIC_API_KEY=sk-ant-demo \
PHIGATE_LOCAL_MODEL=Tests/Fixtures/phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf PHIGATE_LOCAL_THREADS=1 \
PHIGATE_PORT="$PORT" PHIGATE_DB="$OUT/phigate.sqlite" \
    "$PHIGATE_BIN" serve --config config/phigate.yaml >"$OUT/gateway.log" 2>&1 &
GATEWAY=$!
PIDS+=($GATEWAY)
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

ask() {  # body on stdin; prints the request id
    curl -s -D "$OUT/headers" -o /dev/null "http://127.0.0.1:$PORT/v1/chat/completions" \
        -H 'content-type: application/json' -d @-
    sed -n 's/^x-request-id: //Ip' "$OUT/headers" | tr -d '\r'
}
ids=()
for prompt in "What is 2+2?" "Name a color." "Translate 'hello' to French." \
    "Prove that there are infinitely many primes of the form 4k+3, step by step." \
    "Write a Python function that merges two sorted lists and analyze its complexity."; do
    ids+=("$(printf '{"model":"auto","max_tokens":16,"messages":[{"role":"user","content":"%s"}]}' "$prompt" | ask)")
done
echo '{"model":"auto","max_tokens":8,"messages":[{"role":"user","content":"My SSN is 123-45-6789, fill in the form"}]}' | ask >/dev/null
echo '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}' | ask >/dev/null
echo '{"model":"claude-sonnet-4","max_tokens":50,"messages":[{"role":"user","content":"Say hello"}]}' | ask >/dev/null
echo '{"model":"phi","max_tokens":12,"stream":true,"messages":[{"role":"user","content":"Say hello"}]}' | ask >/dev/null
echo '{"model":"local","max_tokens":5000,"messages":[{"role":"user","content":"too long"}]}' | ask >/dev/null
echo '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}' | ask >/dev/null
score=0.9
for id in "${ids[@]}"; do
    curl -s "http://127.0.0.1:$PORT/v1/feedback" -H 'content-type: application/json' \
        -d "{\"request_id\":\"$id\",\"score\":$score,\"comment\":\"demo label\"}" >/dev/null
    score=0.4
done
kill -INT "$GATEWAY"; wait "$GATEWAY" || true   # graceful shutdown flushes the outcome queue

"$PHIGATE_BIN" export --db "$OUT/phigate.sqlite" --config config/phigate.yaml --frontier-model gpt-4o --out "$OUT/csv"
for file in "$OUT"/csv/*.csv; do echo "== $(basename "$file")"; tr -d '\r' <"$file"; done
