-- wrk script for bench/bench_http.sh: POST /v1/route with real prompts.
-- The request bodies are prepared at bench time from ../shared/data (one
-- JSON body per line in $TR_BENCH_BODIES); nothing is copied into the repo.
local bodies = {}
local path = os.getenv("TR_BENCH_BODIES")
for line in io.lines(path) do bodies[#bodies + 1] = line end
local reqs = {}
local i = 0

init = function(args)
  -- Pre-format every request once per thread; start each thread elsewhere.
  for k, b in ipairs(bodies) do
    reqs[k] = wrk.format("POST", "/v1/route", {["Content-Type"] = "application/json"}, b)
  end
  i = math.random(#reqs)
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
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d status_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
