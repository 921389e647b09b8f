-- PUT of a 1 KiB value to a new key on every request. Keys are unique per run (args[1] is a
-- run tag), per thread (thread_id, from threads.lua) and per request (a counter).
function init(args)
  base = args[1] .. "/" .. thread_id .. "/"
  local size = tonumber(args[2]) or 1024
  local seed = "rosetta-bench-value-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ|"
  body = string.rep(seed, math.ceil(size / #seed)):sub(1, size)
  headers = { ["Content-Type"] = "application/octet-stream" }
  for name, value in pairs(wrk.headers) do headers[name] = value end
  counter = 0
end

function request()
  counter = counter + 1
  return wrk.format("PUT", base .. counter, headers, body)
end
