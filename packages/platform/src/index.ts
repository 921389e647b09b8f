export * from './env';
export * from './expositions';
export * from './heap';
export * from './logger';
export * from './shutdown';
export * from './snapshot-store';
export * from './telemetry';
