-- wrk script of bench/recs_read.sh: profile reads of users picked at random from a list,
-- with an optional fixed query suffix (the recommendation parameters):
--   GET /v1/userprofile?user_id=<a user of the list><suffix>   Authorization: Api-Key <secret>
-- Arguments (after `--`): secret key, file of user ids (one a line), query suffix (e.g.
-- "&get_recs=true&rec_id=ease&limit=10", or nothing). The same script drives nginx, which
-- ignores the query string. At the end it prints one line "RESULT {json}", as
-- bench/profile.lua does.

local users = {}
local suffix = ""

function init(args)
  wrk.headers["Authorization"] = "Api-Key " .. (args[1] or "bench-secret")
  local f = assert(io.open(args[2], "r"), "cannot open the users file " .. tostring(args[2]))
  for line in f:lines() do
    if line ~= "" then users[#users + 1] = line end
  end
  f:close()
  assert(#users > 0, "no users in " .. args[2])
  suffix = args[3] or ""
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  local u = users[math.random(1, #users)]
  return wrk.format("GET", "/v1/userprofile?user_id=" .. u .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,"bytes_per_response":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f,"mean_ms":%.4f,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    summary.requests > 0 and summary.bytes / summary.requests or 0,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
