-- GET of a random key k%07d below args[1], among args[2] keys.
function init(args)
  base = args[1]
  count = tonumber(args[2])
  math.randomseed(7919 + thread_id)
end

function request()
  return wrk.format("GET", base .. string.format("k%07d", math.random(0, count - 1)))
end
