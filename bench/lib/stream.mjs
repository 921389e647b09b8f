// Streaming clients: GET a long answer on a fresh connection and count its records as the bytes
// arrive, without parsing them.
import { request } from 'node:http';
import { AUTH_HEADERS } from './config.mjs';
import { performance } from 'node:perf_hooks';

const NEWLINE = 0x0a;

/**
 * GETs `url` on a fresh connection, handing each body chunk to `counter.add`; at the end
 * `counter.finish()` tells { records, complete }. Resolves with those, bytes, headersMs,
 * ttfbMs (first body byte), totalMs, recordsPerSecond and mbPerSecond.
 */
export function streamCounted(url, { headers = AUTH_HEADERS, timeoutMs, label = url }, counter) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let headersMs;
    let ttfbMs;
    let bytes = 0;
    const req = request(url, { agent: false, headers }, (res) => {
      headersMs = performance.now() - t0;
      if (res.statusCode !== 200) {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          reject(new Error(`${label} answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8', 0, 500)}`)),
        );
        return;
      }
      res.on('data', (chunk) => {
        ttfbMs ??= performance.now() - t0;
        bytes += chunk.length;
        counter.add(chunk);
      });
      res.on('end', () => {
        const totalMs = performance.now() - t0;
        const { records, complete } = counter.finish();
        resolve({
          records,
          bytes,
          complete,
          headersMs,
          ttfbMs,
          totalMs,
          recordsPerSecond: records / (totalMs / 1000),
          mbPerSecond: bytes / 1e6 / (totalMs / 1000),
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${label}: no progress in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The export: an NDJSON listing, its lines counted; complete when it ended with its
 * {"done":true} line (which is not a record).
 */
export function streamNdjson(url, { timeoutMs = 300_000 } = {}) {
  let lines = 0;
  let tailText = '';
  return streamCounted(
    url,
    { headers: { ...AUTH_HEADERS, accept: 'application/x-ndjson' }, timeoutMs, label: 'export' },
    {
      add(chunk) {
        let i = chunk.indexOf(NEWLINE);
        while (i !== -1) {
          lines++;
          i = chunk.indexOf(NEWLINE, i + 1);
        }
        tailText = (tailText + chunk.toString('latin1', Math.max(0, chunk.length - 256))).slice(-256);
      },
      finish() {
        const last = tailText.trimEnd().split('\n').pop() ?? '';
        const complete = last.startsWith('{"done":true');
        return { records: complete ? lines - 1 : lines, complete };
      },
    },
  );
}
