import { fromJsonString, toJsonString } from '@bufbuild/protobuf';
import { ChangeEventSchema, type ChangeEvent } from './gen/rosetta/v1/changes_pb';

/**
 * Change events on the event bus (Redis pub/sub when clustered): one channel per collection,
 * `<prefix>events:<space>/<collection>`, plus `<prefix>events:*` patterns for everything.
 * Messages are the proto3 JSON form of ChangeEvent, readable with `redis-cli psubscribe`.
 */
export function eventChannel(prefix: string, space: string, collection: string): string {
  return `${prefix}events:${space}/${collection}`;
}

export function allEventsPattern(prefix: string): string {
  return `${prefix}events:*`;
}

export function encodeEventMessage(event: ChangeEvent): string {
  return toJsonString(ChangeEventSchema, event);
}

export function decodeEventMessage(text: string): ChangeEvent {
  return fromJsonString(ChangeEventSchema, text);
}
