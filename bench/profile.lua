-- wrk script for the profile-read benchmark, used unchanged against profiled and nginx.
-- Every request asks for a random one of the loaded users:
--   GET /v1/userprofile?user_id=u%07d   Authorization: Api-Key <secret>
-- Arguments (after `--`): number of users (default 1000000), secret key (default
-- bench-secret), and optionally "seq:STEP" to walk the users in order instead
-- (u0, uSTEP, u2*STEP, ... wrapping around), which bench/run.sh uses to warm the server's
-- caches. At the end it prints one line "RESULT {json}" that bench/run.sh parses.

local users = 1000000
local step = nil
local counter = 0

function init(args)
  users = tonumber(args[1] or "") or users
  wrk.headers["Authorization"] = "Api-Key " .. (args[2] or "bench-secret")
  local s = (args[3] or ""):match("^seq:(%d+)$")
  if s then step = tonumber(s) end
  -- a different sequence per wrk thread and per run
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  local id
  if step then
    id = (counter * step) % users
    counter = counter + 1
  else
    id = math.random(0, users - 1)
  end
  return wrk.format("GET", string.format("/v1/userprofile?user_id=u%07d", id))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,"bytes_per_response":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    summary.requests > 0 and summary.bytes / summary.requests or 0,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
