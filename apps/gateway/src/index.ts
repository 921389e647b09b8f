export { createApp, type AppDeps } from './app';
export { createHttpRecordApi, type RecordApi } from './clients/record-api';
export { GatewayConfigSchema, loadConfig, type GatewayConfig } from './config';
export { startHttpServer, type HttpServer } from './server';
