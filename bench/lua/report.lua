-- Appended to every wrk script: prints the run's figures as one JSON line that bench/run.mjs
-- parses (latencies in microseconds, from wrk's own histogram, as `--latency` prints them).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,' ..
      '"writeErrors":%d,"non2xx":%d,"timeouts":%d,"meanUs":%.1f,"p50Us":%.0f,"p75Us":%.0f,' ..
      '"p90Us":%.0f,"p99Us":%.0f,"p999Us":%.0f,"maxUs":%.0f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
