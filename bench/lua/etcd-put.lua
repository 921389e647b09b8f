-- POST /v3/kv/put of a 1 KiB value to a new key on every request, through etcd's v3 JSON gateway
-- (keys and values in base64). Keys are unique per run (args[1] is a run tag), per thread
-- (thread_id, from threads.lua) and per request (a counter), as in put.lua.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function sextet(n)
  return alphabet:sub(n + 1, n + 1)
end

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    out[#out + 1] = sextet(math.floor(n / 262144))
      .. sextet(math.floor(n / 4096) % 64)
      .. (b and sextet(math.floor(n / 64) % 64) or "=")
      .. (c and sextet(n % 64) or "=")
  end
  return table.concat(out)
end

function init(args)
  base = args[1] .. "/" .. thread_id .. "/"
  local size = tonumber(args[2]) or 1024
  local seed = "rosetta-bench-value-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ|"
  value = base64(string.rep(seed, math.ceil(size / #seed)):sub(1, size))
  headers = {}
  for name, v in pairs(wrk.headers) do headers[name] = v end
  counter = 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, headers, '{"key":"' .. base64(base .. counter) .. '","value":"' .. value .. '"}')
end
