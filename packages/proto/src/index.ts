import { useRosettaTextEncoding } from './text-encoding';

useRosettaTextEncoding();

export * from './gen/rosetta/v1/changes_pb';
export * from './gen/rosetta/v1/collections_pb';
export * from './gen/rosetta/v1/common_pb';
export * from './gen/rosetta/v1/records_pb';
export * from './gen/rosetta/v1/versions_pb';
export * from './gen/rosetta/v1/webhooks_pb';
export * from './gen/rosetta/v1/jobs_pb';
export * from './gen/rosetta/v1/snapshots_pb';
export * from './direct-client';
export * from './errors';
export * from './jobs';
export * from './events';
export * from './rpc/client';
export * from './rpc/server';
export * from './gen/rosetta/v1/auth_pb';
export * from './gen/rosetta/v1/health_pb';
export * from './gen/dvid/keyvalue/v1/keyvalue_pb';
export * from './grants';
