export { createApp, type AppDeps, type LegacyRoute } from './app';
export { createHttpRecordApi, type RecordApi } from './clients/record-api';
export { GatewayConfigSchema, graphqlOptions, loadConfig, serverLimits, type GatewayConfig } from './config';
export { DEFAULT_SERVER_LIMITS, type ServerLimits } from './http/overload';
export { busChangeEvents, type ChangeEvents } from './events/change-events';
export { connectChangeEvents } from './events/redis-change-events';
export { startHttpServer, type HttpServer } from './server';
export { legacyOptions, type LegacyOptions } from './legacy';
