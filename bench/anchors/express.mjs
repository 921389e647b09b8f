// Anchor: a bare Express 5 route answering the same 1 KiB body, with the app settings the
// gateway uses (no x-powered-by, no computed ETag). Express is the workspace's own copy.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { valueOf } from '../lib/value.mjs';

const gateway = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'apps', 'gateway', 'package.json');
const express = createRequire(gateway)('express');

const BODY = Buffer.from(valueOf(1024));

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/v1/spaces/:space/collections/:collection/records/*key', (_req, res) => {
  res.type('application/octet-stream').send(BODY);
});

const server = app.listen(Number(process.env.PORT ?? 8091), process.env.HOST ?? '127.0.0.1');
server.keepAliveTimeout = 65_000;

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
