import { startTelemetry, tuneHeap } from '@rosetta/platform';

// First the heap settings of every Rosetta process (packages/platform/src/heap.ts).
tuneHeap();

/**
 * OpenTelemetry for the all-in-one process, started before anything it instruments is loaded:
 * main.ts imports this module first (see packages/platform/src/telemetry.ts).
 */
export const telemetry = startTelemetry({ service: 'standalone', env: process.env });
