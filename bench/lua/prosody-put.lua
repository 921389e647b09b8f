-- PUT of one JSON document (args[2] bytes of text in it) to a Prosody store on every request.
-- Store names may hold only letters and "_", so the store is named by letters: each thread
-- cycles through 676 stores of its own (bench_<thread letter>_<two letters>).
local function letter(n)
  return string.char(97 + n % 26)
end

function init(args)
  base = args[1] .. letter(thread_id) .. "_"
  local size = tonumber(args[2]) or 1024
  body = '{"name":"bench","text":"' .. string.rep("x", size) .. '"}'
  headers = { ["Content-Type"] = "application/json" }
  for name, value in pairs(wrk.headers) do headers[name] = value end
  counter = 0
end

function request()
  counter = counter + 1
  local n = counter % 676
  return wrk.format("PUT", base .. letter(math.floor(n / 26)) .. letter(n), headers, body)
end
