-- The all-in-one run: each request is picked at random, by weight, among the entries given as
-- arguments, each with its own path, headers and body. An entry is
--   <method> <weight> <path> <header count> <"name: value" …> <body or "">
-- A PUT's path is a key prefix (each PUT writes a new key under it, per thread and per request,
-- as put.lua does) and its body the size of the value in bytes.
function init(args)
  entries = {}
  total = 0
  local i = 1
  while i <= #args do
    local e = { method = args[i], path = args[i + 2], headers = {} }
    total = total + tonumber(args[i + 1])
    e.upto = total
    local n = tonumber(args[i + 3])
    for j = 1, n do
      local name, value = args[i + 3 + j]:match("^([^:]+):%s*(.*)$")
      e.headers[name] = value
    end
    local body = args[i + 4 + n]
    if e.method == "PUT" then
      local size = tonumber(body)
      local seed = "rosetta-bench-value-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ|"
      e.body = string.rep(seed, math.ceil(size / #seed)):sub(1, size)
      e.path = e.path .. "/" .. thread_id .. "/"
    else
      if body ~= "" then e.body = body end
      e.request = wrk.format(e.method, e.path, e.headers, e.body)
    end
    entries[#entries + 1] = e
    i = i + 5 + n
  end
  math.randomseed(7919 + thread_id)
  counter = 0
end

function request()
  local r = math.random(total)
  for _, e in ipairs(entries) do
    if r <= e.upto then
      if e.request then return e.request end
      counter = counter + 1
      return wrk.format("PUT", e.path .. counter, e.headers, e.body)
    end
  end
end
