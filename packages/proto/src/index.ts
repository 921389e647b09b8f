export * from './gen/rosetta/v1/changes_pb';
export * from './gen/rosetta/v1/collections_pb';
export * from './gen/rosetta/v1/common_pb';
export * from './gen/rosetta/v1/records_pb';
export * from './direct-client';
export * from './errors';
export * from './jobs';
export * from './events';
