import { fromJsonString } from '@bufbuild/protobuf';
import { ChangeEventSchema, type ChangeEvent } from './gen/rosetta/v1/changes_pb';

/**
 * Change events on the event bus (Redis pub/sub when clustered): one channel per collection,
 * `<prefix>events:<space>/<collection>`, plus `<prefix>events:*` patterns for everything.
 * Messages are the proto3 JSON form of ChangeEvent, readable with `redis-cli psubscribe`: the
 * relay publishes, for each collection with events in a page of the feed, the newest of them,
 * without its value (docs/change-feed.md).
 */
export function eventChannel(prefix: string, space: string, collection: string): string {
  return `${prefix}events:${space}/${collection}`;
}

export function allEventsPattern(prefix: string): string {
  return `${prefix}events:*`;
}

/** proto3 JSON of an int64: a decimal string, left out at zero. */
const int64 = (value: bigint) => (value === 0n ? undefined : String(value));
/** proto3 JSON of a (non-optional) string: left out when empty. */
const text = (value: string) => (value === '' ? undefined : value);

/**
 * The proto3 JSON of a change event, byte for byte what `toJsonString(ChangeEventSchema, event)`
 * writes (fields in number order, defaults left out, int64 as strings, bytes as padded Base64;
 * property-tested against it), built directly: the relay publishes every event, and the
 * reflective encoder took 18 µs for an event with a 1 KiB value against 2.3 µs this way.
 */
export function encodeEventMessage(event: ChangeEvent): string {
  const { value } = event;
  return JSON.stringify({
    position: text(event.position),
    revision: int64(event.revision),
    op: text(event.op),
    space: text(event.space),
    collection: text(event.collection),
    key: text(event.key),
    version: text(event.version),
    contentType: text(event.contentType),
    size: int64(event.size),
    atUs: int64(event.atUs),
    value:
      value === undefined
        ? undefined
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
  });
}

export function decodeEventMessage(text: string): ChangeEvent {
  return fromJsonString(ChangeEventSchema, text);
}
