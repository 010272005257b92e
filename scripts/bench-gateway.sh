#!/usr/bin/env bash
# Benchmark: the gateway's added latency and throughput, on loopback, in about a minute.
#
# nginx answers a fixed chat completion JSON (the "upstream"); wrk measures it directly, then through
# `phigate serve` (release build) configured with one openai backend pointing at that nginx, and through three
# proxies that do nothing but forward, the floors phigate is measured against:
#   - a second nginx process as a keep-alive reverse proxy (what one more process hop costs on this machine);
#   - `phigate dev reference-proxy --server nio`: AsyncHTTPClient behind a bare SwiftNIO channel handler (the client
#     library's floor);
#   - `phigate dev reference-proxy`: the same Hummingbird server and AsyncHTTPClient configuration as phigate
#     (the floor of the libraries phigate is built on).
# It prints:
#   - concurrency 1: p50 / p99 latency, direct, through each proxy and through phigate, and the differences
#     (added latency);
#   - concurrency 64: requests/s and p99 through each.
# Needs: nginx (nginx-light), wrk. Environment: BENCH_DURATION (seconds per run, default 10),
# PHIGATE_BIN (skip the build and use this binary).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${BENCH_DURATION:-10}"
for tool in nginx wrk; do
    command -v "$tool" >/dev/null || { echo "bench-gateway: '$tool' is required (apt-get install nginx-light wrk)"; exit 1; }
done

if [ -z "${PHIGATE_BIN:-}" ]; then
    swift build -c release --product phigate >&2
    PHIGATE_BIN="$(swift build -c release --show-bin-path)/phigate"
fi

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # url
    for _ in $(seq 100); do
        python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench-gateway: $1 did not come up" >&2
    return 1
}

NGINX_PORT="$(free_port)"
GATEWAY_PORT="$(free_port)"
REFERENCE_PORT="$(free_port)"
NIO_PORT="$(free_port)"
NGINX_PROXY_PORT="$(free_port)"
COMPLETION='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18},"system_fingerprint":"fp_bench"}'

mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            default_type application/json;
            return 200 '$COMPLETION';
        }
    }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)
wait_for "http://127.0.0.1:$NGINX_PORT/healthz"

mkdir -p "$WORK/nginx-proxy"
cat >"$WORK/nginx-proxy/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx-proxy/nginx.pid;
error_log $WORK/nginx-proxy/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx-proxy/body;
    proxy_temp_path $WORK/nginx-proxy/proxy;
    fastcgi_temp_path $WORK/nginx-proxy/fastcgi;
    uwsgi_temp_path $WORK/nginx-proxy/uwsgi;
    scgi_temp_path $WORK/nginx-proxy/scgi;
    keepalive_requests 1000000;
    upstream completions { server 127.0.0.1:$NGINX_PORT; keepalive 128; }
    server {
        listen 127.0.0.1:$NGINX_PROXY_PORT;
        location / {
            proxy_pass http://completions;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
nginx -c "$WORK/nginx-proxy/nginx.conf" -p "$WORK/nginx-proxy" &
PIDS+=($!)
wait_for "http://127.0.0.1:$NGINX_PROXY_PORT/healthz"

cat >"$WORK/phigate.yaml" <<CONF
server:
  host: 127.0.0.1
  port: $GATEWAY_PORT
  max_body_size: 1MiB
log_level: warning
database:
  path: $WORK/phigate.sqlite
api_keys:
  - id: bench
    tenant: bench
    key_env: BENCH_KEY
backends:
  - name: upstream
    kind: openai
    base_url: http://127.0.0.1:$NGINX_PORT/v1
    api_key_env: BENCH_UPSTREAM_KEY
    models:
      - { name: bench-model, price_per_1m: { input: 1.00, output: 2.00 } }
CONF
export BENCH_KEY="pg-bench-key"
BENCH_UPSTREAM_KEY="sk-bench" "$PHIGATE_BIN" serve --config "$WORK/phigate.yaml" >"$WORK/phigate.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$GATEWAY_PORT/healthz"

"$PHIGATE_BIN" dev reference-proxy --port "$REFERENCE_PORT" \
    --upstream "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" >"$WORK/reference.log" 2>&1 &
PIDS+=($!)
"$PHIGATE_BIN" dev reference-proxy --server nio --port "$NIO_PORT" \
    --upstream "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" >"$WORK/reference-nio.log" 2>&1 &
PIDS+=($!)
for log in reference reference-nio; do
    for _ in $(seq 100); do grep -q "^listening on" "$WORK/$log.log" && break; sleep 0.1; done
    grep -q "^listening on" "$WORK/$log.log" || { echo "bench-gateway: $log did not come up" >&2; cat "$WORK/$log.log" >&2; exit 1; }
done

run_wrk() { # url connections duration → "rps p50 p99 errors"
    wrk -t1 -c"$2" -d"$3"s --timeout 5s -s scripts/bench/report.lua "$1" | sed -n 's/^RESULT //p'
}

URL_DIRECT="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
URL_GATEWAY="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
URL_REFERENCE="http://127.0.0.1:$REFERENCE_PORT/v1/chat/completions"
URL_NIO="http://127.0.0.1:$NIO_PORT/v1/chat/completions"
URL_NGINX_PROXY="http://127.0.0.1:$NGINX_PROXY_PORT/v1/chat/completions"

# Warm up both paths (connection pools, caches, JIT-free but page-faulted code).
run_wrk "$URL_DIRECT" 8 2 >/dev/null
run_wrk "$URL_GATEWAY" 8 3 >/dev/null
run_wrk "$URL_REFERENCE" 8 3 >/dev/null
run_wrk "$URL_NIO" 8 3 >/dev/null
run_wrk "$URL_NGINX_PROXY" 8 2 >/dev/null

read -r D1_RPS D1_P50 D1_P99 D1_ERR <<<"$(run_wrk "$URL_DIRECT" 1 "$DURATION")"
read -r X1_RPS X1_P50 X1_P99 X1_ERR <<<"$(run_wrk "$URL_NGINX_PROXY" 1 "$DURATION")"
read -r N1_RPS N1_P50 N1_P99 N1_ERR <<<"$(run_wrk "$URL_NIO" 1 "$DURATION")"
read -r R1_RPS R1_P50 R1_P99 R1_ERR <<<"$(run_wrk "$URL_REFERENCE" 1 "$DURATION")"
read -r G1_RPS G1_P50 G1_P99 G1_ERR <<<"$(run_wrk "$URL_GATEWAY" 1 "$DURATION")"
read -r D64_RPS D64_P50 D64_P99 D64_ERR <<<"$(run_wrk "$URL_DIRECT" 64 "$DURATION")"
read -r X64_RPS X64_P50 X64_P99 X64_ERR <<<"$(run_wrk "$URL_NGINX_PROXY" 64 "$DURATION")"
read -r N64_RPS N64_P50 N64_P99 N64_ERR <<<"$(run_wrk "$URL_NIO" 64 "$DURATION")"
read -r R64_RPS R64_P50 R64_P99 R64_ERR <<<"$(run_wrk "$URL_REFERENCE" 64 "$DURATION")"
read -r G64_RPS G64_P50 G64_P99 G64_ERR <<<"$(run_wrk "$URL_GATEWAY" 64 "$DURATION")"

printf '\nphigate gateway benchmark (loopback, %ss per run, %s CPUs, wrk -t1)\n' "$DURATION" "$(nproc)"
printf '%-34s %10s %10s %10s %8s\n' "" "req/s" "p50 µs" "p99 µs" "errors"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 1, nginx direct" "$D1_RPS" "$D1_P50" "$D1_P99" "$D1_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 1, nginx as proxy" "$X1_RPS" "$X1_P50" "$X1_P99" "$X1_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 1, NIO + AHC proxy" "$N1_RPS" "$N1_P50" "$N1_P99" "$N1_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 1, reference proxy" "$R1_RPS" "$R1_P50" "$R1_P99" "$R1_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 1, through phigate" "$G1_RPS" "$G1_P50" "$G1_P99" "$G1_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 64, nginx direct" "$D64_RPS" "$D64_P50" "$D64_P99" "$D64_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 64, nginx as proxy" "$X64_RPS" "$X64_P50" "$X64_P99" "$X64_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 64, NIO + AHC proxy" "$N64_RPS" "$N64_P50" "$N64_P99" "$N64_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 64, reference proxy" "$R64_RPS" "$R64_P50" "$R64_P99" "$R64_ERR"
printf '%-34s %10s %10s %10s %8s\n' "concurrency 64, through phigate" "$G64_RPS" "$G64_P50" "$G64_P99" "$G64_ERR"
printf '\nadded latency at concurrency 1: p50 %s µs, p99 %s µs (targets: < 150 / < 500)\n' \
    "$((G1_P50 - D1_P50))" "$((G1_P99 - D1_P99))"
printf 'throughput at concurrency 64 through phigate: %s req/s, p99 %s µs (target: >= 9000 req/s)\n' "$G64_RPS" "$G64_P99"
printf 'nginx as proxy (one more process hop): added p50 %s µs, p99 %s µs; %s req/s at concurrency 64\n' \
    "$((X1_P50 - D1_P50))" "$((X1_P99 - D1_P99))" "$X64_RPS"
printf 'NIO + AHC proxy (the client library alone): added p50 %s µs, p99 %s µs; %s req/s at concurrency 64\n' \
    "$((N1_P50 - D1_P50))" "$((N1_P99 - D1_P99))" "$N64_RPS"
printf 'reference proxy (the libraries alone): added p50 %s µs, p99 %s µs; %s req/s at concurrency 64\n' \
    "$((R1_P50 - D1_P50))" "$((R1_P99 - D1_P99))" "$R64_RPS"
printf 'phigate over the reference proxy: p50 +%s µs, p99 +%s µs; throughput %s of it\n' \
    "$((G1_P50 - R1_P50))" "$((G1_P99 - R1_P99))" "$(python3 -c "print(f'{$G64_RPS / max($R64_RPS, 1):.2f}x')")"
