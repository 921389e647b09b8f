import { startTelemetry, tuneHeap } from '@rosetta/platform';

// First the heap settings of every Rosetta process (packages/platform/src/heap.ts).
tuneHeap();

/**
 * OpenTelemetry for the api, started before anything it instruments is loaded: main.ts imports
 * this module first (see packages/platform/src/telemetry.ts for what OTEL_* turns on).
 */
export const telemetry = startTelemetry({ service: 'api', env: process.env });
