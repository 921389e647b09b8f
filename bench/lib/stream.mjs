// The export client: streams an NDJSON listing and counts its lines without parsing them.
import { request } from 'node:http';
import { AUTH_HEADERS } from './config.mjs';
import { performance } from 'node:perf_hooks';

const NEWLINE = 0x0a;

/**
 * GETs `url` on a fresh connection and counts records. Resolves with records, bytes,
 * ttfbMs (first body byte), headersMs, totalMs, recordsPerSecond, mbPerSecond and whether the
 * stream ended with its {"done":true} line.
 */
export function streamNdjson(url, { timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let headersMs;
    let ttfbMs;
    let bytes = 0;
    let lines = 0;
    let tailText = '';
    const req = request(url, { agent: false, headers: { ...AUTH_HEADERS, accept: 'application/x-ndjson' } }, (res) => {
      headersMs = performance.now() - t0;
      if (res.statusCode !== 200) {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          reject(new Error(`export answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8', 0, 500)}`)),
        );
        return;
      }
      res.on('data', (chunk) => {
        if (ttfbMs === undefined) ttfbMs = performance.now() - t0;
        bytes += chunk.length;
        let i = chunk.indexOf(NEWLINE);
        while (i !== -1) {
          lines++;
          i = chunk.indexOf(NEWLINE, i + 1);
        }
        tailText = (tailText + chunk.toString('latin1', Math.max(0, chunk.length - 256))).slice(-256);
      });
      res.on('end', () => {
        const totalMs = performance.now() - t0;
        const last = tailText.trimEnd().split('\n').pop() ?? '';
        const complete = last.startsWith('{"done":true');
        const records = complete ? lines - 1 : lines;
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
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`export: no progress in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
