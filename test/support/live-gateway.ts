import {
  busChangeEvents,
  createApp,
  startHttpServer,
  type AppDeps,
  type HttpServer,
  type RecordApi,
  type ServerLimits,
} from '../../apps/gateway/src';
import { createEmbeddedRelay, InProcessEventBus, MemoryCursorStore } from '../../apps/worker/src';
import { silentLogger, startTestApi, type TestApi } from './api';

export interface LiveGateway {
  readonly api: TestApi;
  readonly app: ReturnType<typeof createApp>;
  readonly http: HttpServer;
  close(): Promise<void>;
}

/**
 * A gateway listening on a free port over a real record service, with the change events relayed
 * as the all-in-one process relays them (the embedded relay every 20 ms, the in-process bus):
 * for tests of live readers (subscriptions, long-polls, Server-Sent Events, watches).
 * `wrap` may put a layer of the test's own between the gateway and the record service; `limits`
 * are the server's limits of slow clients and overload (the defaults when unset).
 */
export async function startLiveGateway(
  options: { wrap?: (api: TestApi) => RecordApi; limits?: ServerLimits } & Partial<Pick<AppDeps, 'graphql'>> = {},
): Promise<LiveGateway> {
  const api = await startTestApi();
  const bus = new InProcessEventBus(() => undefined);
  const relay = createEmbeddedRelay({
    feed: api.changes,
    publisher: bus,
    cursor: new MemoryCursorStore(),
    batch: 500,
    intervalMs: 20,
    logger: silentLogger,
  });
  const app = createApp({
    api: options.wrap?.(api) ?? api,
    logger: silentLogger,
    maxBodyBytes: 1024 * 1024,
    events: busChangeEvents(
      (listener) => bus.subscribe(listener),
      () => undefined,
    ),
    ...(options.graphql === undefined ? {} : { graphql: options.graphql }),
  });
  const http = await startHttpServer(app, '127.0.0.1', 0, options.limits);
  return {
    api,
    app,
    http,
    async close() {
      await http.close();
      await relay.stop();
      await api.close();
    },
  };
}
