-- Put in front of every named wrk script (bench/lib/loadgen.mjs): numbers wrk's threads, so that a
-- script's init() finds its own `thread_id` (0, 1, …) and keys written by different threads differ.
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end
