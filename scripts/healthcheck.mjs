// Container health probe: `node scripts/healthcheck.mjs <url> [--h2c]` sends one GET and exits 0 on
// a 2xx answer, 1 on anything else (another status, a refused connection, no answer within 2 s).
// The images are slim (no curl or wget), and the api serves HTTP/2 cleartext only, with prior
// knowledge and no HTTP/1.1 upgrade, so a generic HTTP/1.1 client could not probe it: `--h2c`
// speaks HTTP/2 from the first byte. Node built-ins only, so it runs from a pruned image.
import http from 'node:http';
import http2 from 'node:http2';

const TIMEOUT_MS = 2000;

const args = process.argv.slice(2);
const h2c = args.includes('--h2c');
const target = args.find((arg) => !arg.startsWith('--'));

function finish(code, message) {
  if (message !== undefined) (code === 0 ? process.stdout : process.stderr).write(`${message}\n`);
  process.exit(code);
}

if (target === undefined) finish(1, 'usage: node scripts/healthcheck.mjs <url> [--h2c]');

let url;
try {
  url = new URL(target);
} catch {
  finish(1, `not a URL: ${target}`);
}
if (url.protocol !== 'http:') finish(1, `only http: URLs are supported, got ${url.protocol}`);

// One deadline for the whole probe (connect, send, first response headers). unref() is not used:
// the timer is what ends the process when a server accepts the connection and never answers.
setTimeout(() => finish(1, `no answer from ${url.href} within ${TIMEOUT_MS} ms`), TIMEOUT_MS);

function settle(status) {
  const ok = status >= 200 && status < 300;
  finish(ok ? 0 : 1, `${url.href} answered ${status}`);
}

if (h2c) {
  const session = http2.connect(url.origin);
  session.on('error', (error) => finish(1, `${url.href}: ${error.message}`));
  const request = session.request({ ':method': 'GET', ':path': `${url.pathname}${url.search}` });
  request.on('response', (headers) => settle(Number(headers[':status'])));
  request.on('error', (error) => finish(1, `${url.href}: ${error.message}`));
  request.end();
} else {
  const request = http.get(url, { headers: { connection: 'close' } }, (response) => {
    response.resume();
    settle(response.statusCode ?? 0);
  });
  request.on('error', (error) => finish(1, `${url.href}: ${error.message}`));
}
