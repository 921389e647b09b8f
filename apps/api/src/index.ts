export { ApiConfigSchema, loadConfig, type ApiConfig } from './config';
export { createApiRuntime, type ApiRuntime } from './runtime';
export { createRpcServer } from './transport/server';
export { firstStartBanner } from './services/bootstrap';
