-- wrk script: POST a fixed chat completion request and print one machine-readable line at the end:
-- RESULT requests_per_s p50_us p99_us errors
local body = os.getenv("BENCH_BODY") or '{"model":"bench-model","messages":[{"role":"user","content":"Say hello"}]}'
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end

function done(summary, latency, requests)
    local errors = summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.status + summary.errors.timeout
    local rps = summary.requests / (summary.duration / 1e6)
    io.write(string.format("RESULT %.0f %.0f %.0f %d\n", rps, latency:percentile(50), latency:percentile(99), errors))
end
