-- wrk script for bench/bench_gateway.sh: POST /v1/chat/completions with
-- real prompts, to the proxy or straight to the stand-in provider.  The
-- bodies are prepared at bench time (one JSON body per line in
-- $TR_BENCH_BODIES); nothing is copied into the repository.
local bodies = {}
for line in io.lines(os.getenv("TR_BENCH_BODIES")) do bodies[#bodies + 1] = line end
local reqs = {}
local i = 0

init = function(args)
  for k, b in ipairs(bodies) do
    reqs[k] = wrk.format("POST", "/v1/chat/completions", {["Content-Type"] = "application/json"}, b)
  end
end

request = function()
  i = i % #reqs + 1
  return reqs[i]
end

local non2xx = 0
response = function(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d status_errors=%d\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
