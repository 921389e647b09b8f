import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { Redis } from 'ioredis';
import pino from 'pino';
import { connectChangeEvents, RedisChangeEvents } from '../../apps/gateway/src/events/redis-change-events';
import type { ChangeListener } from '../../apps/gateway/src/events/change-events';
import { ChangeEventSchema, encodeEventMessage, eventChannel, type ChangeEvent } from '../../packages/proto/src';
import { redisPrefix } from '../support/database';
import { REDIS_URL } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/** A pino logger writing JSON lines into an array. */
function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

let publisher: Redis;
/** Every adapter a test opened, closed (again) after all. */
const opened: Array<{ events: RedisChangeEvents; connection?: Redis }> = [];

/** An adapter on a connection of its own, named so that CLIENT LIST can find it. */
function openEvents(prefix = redisPrefix()) {
  const { logger, lines } = memoryLogger();
  const name = `rosetta-test-change-events-${randomBytes(4).toString('hex')}`;
  const connection = new Redis(REDIS_URL, { connectionName: name });
  const events = new RedisChangeEvents(connection, prefix, logger);
  opened.push({ events, connection });
  return { events, connection, name, prefix, lines };
}

const event = (space: string, collection: string, key: string, revision = 1n): ChangeEvent =>
  create(ChangeEventSchema, {
    op: 'put',
    space,
    collection,
    key,
    revision,
    position: `${revision}.${key}`,
    version: '00000000-0000-0000-0000-000000000000',
    contentType: 'text/plain',
    size: 1n,
    atUs: 1733482368123456n,
    value: new TextEncoder().encode('v'),
  });

const publish = (prefix: string, e: ChangeEvent) =>
  publisher.publish(eventChannel(prefix, e.space, e.collection), encodeEventMessage(e));

/** Subscribers Redis counts on a channel. */
async function subscribersOf(channel: string): Promise<number> {
  const [, count] = (await publisher.pubsub('NUMSUB', channel)) as [string, number];
  return Number(count);
}

/** A listener recording the keys it sees, tagged with `name`. */
const into =
  (seen: string[], name: string): ChangeListener =>
  (e) =>
    seen.push(`${name}:${e.key}`);

beforeAll(() => {
  publisher = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const { events, connection } of opened) {
    if (connection === undefined || connection.status !== 'end') await events.close().catch(() => undefined);
  }
  await publisher.quit();
});

it('delivers the events of a collection to its listeners only', async () => {
  const { events, prefix } = openEvents();
  const a: string[] = [];
  const b: string[] = [];
  await events.subscribe('space', 'a', into(a, 'a'));
  await events.subscribe('space', 'b', into(b, 'b'));

  const received = await publish(prefix, event('space', 'a', 'k1'));
  expect(received).toBe(1);
  await publish(prefix, event('space', 'b', 'k2'));
  await publish(prefix, event('space', 'a', 'k3'));
  // Nobody here listens to these: another collection, another space.
  expect(await publish(prefix, event('space', 'c', 'k4'))).toBe(0);
  expect(await publish(prefix, event('other', 'a', 'k5'))).toBe(0);
  // A sentinel published last: once it arrives, everything before it has.
  await publish(prefix, event('space', 'b', 'end'));

  await expectEventually(() => expect(b).toEqual(['b:k2', 'b:end']));
  expect(a).toEqual(['a:k1', 'a:k3']);
});

it('decodes the whole event as the relay encoded it', async () => {
  const { events, prefix } = openEvents();
  const seen: ChangeEvent[] = [];
  await events.subscribe('space', 'a', (e) => seen.push(e));
  const sent = event('space', 'a', 'k', 42n);
  await publish(prefix, sent);
  await expectEventually(() => expect(seen).toHaveLength(1));
  expect(seen[0]).toEqual(sent);
});

it('hears nothing of the same collection under another prefix', async () => {
  const mine = openEvents();
  const theirs = openEvents();
  const seen: string[] = [];
  await mine.events.subscribe('space', 'a', into(seen, 'mine'));
  await theirs.events.subscribe('space', 'a', () => undefined);

  await publish(theirs.prefix, event('space', 'a', 'theirs'));
  await publish(mine.prefix, event('space', 'a', 'mine'));
  await expectEventually(() => expect(seen).toEqual(['mine:mine']));
});

it('is subscribed in Redis once its subscribe resolves, with one SUBSCRIBE per collection', async () => {
  const { events, prefix } = openEvents();
  const channel = eventChannel(prefix, 'space', 'a');
  expect(await subscribersOf(channel)).toBe(0);

  const seen: string[] = [];
  await events.subscribe('space', 'a', into(seen, 'l1'));
  // No waiting: the subscription exists when the promise resolves, so an event published now arrives.
  expect(await subscribersOf(channel)).toBe(1);
  await publish(prefix, event('space', 'a', 'k1'));
  await expectEventually(() => expect(seen).toEqual(['l1:k1']));

  await events.subscribe('space', 'a', into(seen, 'l2'));
  expect(await subscribersOf(channel)).toBe(1);
  await publish(prefix, event('space', 'a', 'k2'));

  await expectEventually(() => expect(seen).toEqual(['l1:k1', 'l1:k2', 'l2:k2']));
});

it('unsubscribes in Redis when the last listener of a collection goes', async () => {
  const { events, prefix } = openEvents();
  const channelA = eventChannel(prefix, 'space', 'a');
  const channelB = eventChannel(prefix, 'space', 'b');
  const seen: string[] = [];
  const first = await events.subscribe('space', 'a', into(seen, 'first'));
  const second = await events.subscribe('space', 'a', into(seen, 'second'));
  const other = await events.subscribe('space', 'b', into(seen, 'other'));

  first();
  await publish(prefix, event('space', 'a', 'k1'));
  await expectEventually(() => expect(seen).toEqual(['second:k1']));
  expect(await subscribersOf(channelA)).toBe(1);

  second();
  await expectEventually(async () => expect(await subscribersOf(channelA)).toBe(0));
  expect(await publish(prefix, event('space', 'a', 'k2'))).toBe(0);
  // The other collection keeps its subscription.
  expect(await subscribersOf(channelB)).toBe(1);

  other();
  other();
  await expectEventually(async () => expect(await subscribersOf(channelB)).toBe(0));
  expect(seen).toEqual(['second:k1']);
});

it('subscribes again for a collection that gains a listener after losing its last', async () => {
  const { events, prefix } = openEvents();
  const channel = eventChannel(prefix, 'space', 'a');
  (await events.subscribe('space', 'a', () => undefined))();
  await expectEventually(async () => expect(await subscribersOf(channel)).toBe(0));

  const seen: string[] = [];
  await events.subscribe('space', 'a', into(seen, 'back'));
  expect(await subscribersOf(channel)).toBe(1);
  await publish(prefix, event('space', 'a', 'k'));
  await expectEventually(() => expect(seen).toEqual(['back:k']));
});

it('logs and skips a message it cannot decode, and goes on delivering', async () => {
  const { events, prefix, lines } = openEvents();
  const seen: string[] = [];
  await events.subscribe('space', 'a', into(seen, 'l'));
  const channel = eventChannel(prefix, 'space', 'a');

  await publisher.publish(channel, 'not json at all');
  await publisher.publish(channel, JSON.stringify({ revision: 'not a number', space: 'space', collection: 'a' }));
  await publisher.publish(channel, JSON.stringify({ noSuchField: true }));
  await publish(prefix, event('space', 'a', 'after'));

  await expectEventually(() => expect(seen).toEqual(['l:after']));
  const warnings = lines.filter((l) => l.msg === 'undecodable change event on the event bus');
  expect(warnings).toHaveLength(3);
  for (const warning of warnings) {
    expect(warning.level).toBe(40);
    expect(warning.err).toEqual(expect.objectContaining({ message: expect.any(String) }));
  }
});

it('logs a listener that throws, and still delivers to the others', async () => {
  const { events, prefix, lines } = openEvents();
  const seen: string[] = [];
  await events.subscribe('space', 'a', () => {
    throw new Error('listener bug');
  });
  await events.subscribe('space', 'a', into(seen, 'ok'));

  await publish(prefix, event('space', 'a', 'k', 77n));
  await expectEventually(() => expect(seen).toEqual(['ok:k']));
  const failures = lines.filter((l) => l.msg === 'change listener failed');
  expect(failures).toEqual([
    expect.objectContaining({ level: 40, revision: '77', err: expect.objectContaining({ message: 'listener bug' }) }),
  ]);
});

it('ends its connection on close', async () => {
  const { events, connection, name, prefix } = openEvents();
  const channel = eventChannel(prefix, 'space', 'a');
  await events.subscribe('space', 'a', () => undefined);
  expect(String(await publisher.client('LIST'))).toContain(`name=${name} `);
  expect(await subscribersOf(channel)).toBe(1);

  await events.close();

  // QUIT is answered before the socket closes.
  await expectEventually(() => expect(connection.status).toBe('end'));
  await expectEventually(async () => expect(String(await publisher.client('LIST'))).not.toContain(`name=${name} `));
  expect(await subscribersOf(channel)).toBe(0);
});

it('connects to Redis by URL with connectChangeEvents, and closes', async () => {
  const { logger } = memoryLogger();
  const prefix = redisPrefix();
  const events = connectChangeEvents(REDIS_URL, prefix, logger);
  opened.push({ events });
  const channel = eventChannel(prefix, 'space', 'a');
  const seen: string[] = [];
  await events.subscribe('space', 'a', into(seen, 'l'));
  await publish(prefix, event('space', 'a', 'k'));
  await expectEventually(() => expect(seen).toEqual(['l:k']));

  await events.close();
  await expectEventually(async () => expect(await subscribersOf(channel)).toBe(0));
});

it('hears an event published once a second listener of the collection has subscribed', async () => {
  const { events, prefix } = openEvents();
  const seen: string[] = [];
  const first = events.subscribe('s', 'a', into(seen, 'first'));
  await events.subscribe('s', 'a', into(seen, 'second'));
  await publish(prefix, event('s', 'a', 'k1'));
  await first;
  await expectEventually(() => expect(seen.sort()).toEqual(['first:k1', 'second:k1']));
});
