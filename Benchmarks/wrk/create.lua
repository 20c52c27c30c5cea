-- POST /v1/verifications for one IIN from every connection: the attempt limit must hold.
function init(args)
  wrk.method = "POST"
  wrk.body = '{"iin":"' .. args[1] .. '"}'
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = args[2]
end

function done(summary, latency, requests)
  io.write(string.format("REQUESTS %d\n", summary.requests))
end

function request()
  return wrk.format(nil, "/v1/verifications")
end
