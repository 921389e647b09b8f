export { createApp, type AppDeps, type LegacyRoute } from './app';
export { createHttpRecordApi, type RecordApi } from './clients/record-api';
export { GatewayConfigSchema, loadConfig, type GatewayConfig } from './config';
export { startHttpServer, type HttpServer } from './server';
export { legacyOptions, type LegacyOptions } from './legacy';
