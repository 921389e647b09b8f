export { ApiConfigSchema, loadConfig, type ApiConfig } from './config';
export { createApiRuntime, type ApiRuntime, type ReadinessChecks } from './runtime';
export { createRpcServer, type RpcServerOptions } from './transport/server';
export { firstStartBanner } from './services/bootstrap';
