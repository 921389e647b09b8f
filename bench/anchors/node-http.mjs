// Anchor: the floor of what Node can serve on this machine. A bare node:http server that answers
// every request with the same 1 KiB body. PORT and HOST come from the environment.
import { createServer } from 'node:http';
import { valueOf } from '../lib/value.mjs';

const BODY = Buffer.from(valueOf(1024));
const HEADERS = { 'content-type': 'application/octet-stream', 'content-length': String(BODY.length) };

const server = createServer((_req, res) => {
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 8090), process.env.HOST ?? '127.0.0.1');

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
