-- POST one JPEG frame per request, cycling over pre-created verification sessions.
-- Each wrk thread takes its own slice of the sessions so no two requests share one.
local frame, sessions, mine, next_index = nil, {}, {}, 1
local counts = {}

function setup(thread)
  thread:set("id", thread_count or 0)
  thread_count = (thread_count or 0) + 1
end

function init(args)
  local f = assert(io.open(args[1], "rb")); frame = f:read("*a"); f:close()
  for line in io.lines(args[2]) do sessions[#sessions + 1] = line end
  local threads, index = tonumber(args[3]), id
  for i = 1, #sessions do if (i - 1) % threads == index then mine[#mine + 1] = sessions[i] end end
  wrk.method = "POST"
  wrk.body = frame
  wrk.headers["Content-Type"] = "image/jpeg"
  wrk.headers["X-API-Key"] = args[4]
end

function request()
  local sid = mine[next_index]
  next_index = next_index % #mine + 1
  return wrk.format(nil, "/v1/verifications/" .. sid .. "/frames")
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("STATUS non2xx=%d\n", summary.errors.status))
  io.write(string.format("P99_MS %.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("P50_MS %.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("RPS %.1f\n", summary.requests / (summary.duration / 1e6)))
end
