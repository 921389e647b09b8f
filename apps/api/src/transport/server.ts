import http2 from 'node:http2';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { ChangeFeedService, CollectionService, RecordService } from '@rosetta/proto';
import type { ApiRuntime } from '../runtime';

export interface RpcServerOptions {
  /** Largest message accepted or sent: a batch of values must fit. */
  readonly maxMessageBytes: number;
}

/**
 * The record service over HTTP/2 cleartext. One server speaks Connect, gRPC and gRPC-Web on
 * the same port; `/healthz` and `/readyz` answer plain GETs for health checks.
 */
export function createRpcServer(runtime: ApiRuntime, options: RpcServerOptions): http2.Http2Server {
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(RecordService, runtime.impls.records);
      router.service(CollectionService, runtime.impls.collections);
      router.service(ChangeFeedService, runtime.impls.changes);
    },
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    fallback(req, res) {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"ok"}');
        return;
      }
      if (req.url === '/readyz') {
        void runtime.ready().then((ready) => {
          res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: ready ? 'ready' : 'unavailable' }));
        });
        return;
      }
      res.writeHead(404);
      res.end();
    },
  });
  return http2.createServer(handler);
}
