import { create } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import { PrincipalSchema, RecordSchema, type RecordService } from '@rosetta/proto';
import { addApiCall, RequestTiming, runWithTiming } from '../http/server-timing';
import { LeaseCache } from './lease-cache';
import { RecordReader } from './record-reader';
import type { CallerHeaders, CollectionRef } from './turn-batcher';

/**
 * Server-Timing of coalesced reads: a fake record service that reports each call's timing as
 * the transport would (addApiCall, in the async context the call was made in).
 */

const a = { space: 's', collection: 'a' };
const b = { space: 's', collection: 'b' };
const alice: CallerHeaders = { grant: 'ga', headers: { 'rosetta-grant': 'ga' } };

function fakeRecords(calls: string[]) {
  const answer = async (method: string, keys: readonly string[], dbMs: number) => {
    calls.push(`${method} ${keys.join(',')}`);
    await new Promise((resolve) => setImmediate(resolve));
    addApiCall(`db;dur=${dbMs}, cache;dur=0.5`, dbMs + 1);
  };
  return {
    async getRecord({ key }: { key: string }) {
      await answer('get', [key], 2);
      return { record: { key } };
    },
    async batchGet({ keys }: { keys: string[] }) {
      await answer('batch', keys, 4);
      return { results: keys.map((key) => ({ record: { key } })) };
    },
  } as unknown as Client<typeof RecordService>;
}

/** Reads `key` of `collection` as a request measured by `timing`. */
const readAs = (reader: RecordReader, timing: RequestTiming, collection: typeof a, key: string) =>
  runWithTiming(timing, () => reader.get(alice, collection, key));

describe('RecordReader with Server-Timing on', () => {
  it('adds a batch call to every request it served, before they get their answer', async () => {
    const calls: string[] = [];
    const reader = new RecordReader(fakeRecords(calls), { serverTiming: true });
    const first = new RequestTiming();
    const second = new RequestTiming();
    const seenWithAnswer: number[] = [];
    await Promise.all(
      [
        [first, 'k1'],
        [second, 'k2'],
      ].map(async ([timing, key]) => {
        const record = await readAs(reader, timing as RequestTiming, a, key as string);
        expect(record?.key).toBe(key);
        seenWithAnswer.push((timing as RequestTiming).calls);
      }),
    );
    expect(calls).toEqual(['batch k1,k2']);
    expect(seenWithAnswer).toEqual([1, 1]);
    for (const timing of [first, second]) expect({ ...timing }).toEqual({ db: 4, cache: 0.5, api: 5, calls: 1 });
  });

  it("adds each call to its own requests only, though one turn's calls go out in one context", async () => {
    const calls: string[] = [];
    const reader = new RecordReader(fakeRecords(calls), { serverTiming: true });
    const first = new RequestTiming();
    const second = new RequestTiming();
    await Promise.all([readAs(reader, first, a, 'k1'), readAs(reader, second, b, 'k2')]);
    expect(calls).toEqual(['get k1', 'get k2']);
    expect({ ...first }).toEqual({ db: 2, cache: 0.5, api: 3, calls: 1 });
    expect({ ...second }).toEqual({ db: 2, cache: 0.5, api: 3, calls: 1 });
  });

  it('adds a failed call too', async () => {
    const failing = {
      async getRecord() {
        await new Promise((resolve) => setImmediate(resolve));
        addApiCall('db;dur=1, cache;dur=0', 2);
        throw new Error('no');
      },
    } as unknown as Client<typeof RecordService>;
    const reader = new RecordReader(failing, { serverTiming: true });
    const timing = new RequestTiming();
    await expect(readAs(reader, timing, a, 'k')).rejects.toThrow('no');
    expect({ ...timing }).toEqual({ db: 1, cache: 0, api: 2, calls: 1 });
  });
});

describe('RecordReader with Server-Timing off', () => {
  it('makes its calls in the context the turn flushes in, measuring nothing itself', async () => {
    const calls: string[] = [];
    const reader = new RecordReader(fakeRecords(calls));
    const first = new RequestTiming();
    const second = new RequestTiming();
    await Promise.all([readAs(reader, first, a, 'k1'), readAs(reader, second, a, 'k2')]);
    expect(calls).toEqual(['batch k1,k2']);
    // The batch went out in the first request's context; no sharing without the setting.
    expect([first.calls, second.calls]).toEqual([1, 0]);
  });
});

/** A call the leasing fake answered: its method and request as the reader made it. */
interface SeenCall {
  readonly method: 'getRecord' | 'batchGet';
  readonly request: unknown;
}

/**
 * A record service that leases what `leases` says (every record of a BatchGet asking for leases,
 * by default) for 5 s; each record's value names the call that answered it.
 */
function leasingRecords(calls: SeenCall[], leases: (key: string) => boolean = () => true) {
  const found = (key: string) =>
    create(RecordSchema, { key, value: Buffer.from(`${key}#${calls.length}`), revision: 3n });
  return {
    async getRecord(request: { key: string }) {
      calls.push({ method: 'getRecord', request });
      await new Promise((resolve) => setImmediate(resolve));
      return { record: found(request.key) };
    },
    async batchGet(request: { keys: string[]; leaseHolder?: string }) {
      calls.push({ method: 'batchGet', request });
      await new Promise((resolve) => setImmediate(resolve));
      const asked = request.leaseHolder !== undefined && request.leaseHolder !== '';
      return {
        results: request.keys.map((key) => ({ record: found(key) })),
        leased: asked ? request.keys.map(leases) : [],
        leaseMs: asked ? 5_000 : 0,
      };
    },
  } as unknown as Client<typeof RecordService>;
}

function leaseCache(resumed = true): LeaseCache {
  const cache = new LeaseCache({ maxBytes: 1 << 20, maxValueBytes: 1024, maxLeaseMs: 10_000 });
  if (resumed) cache.resume();
  return cache;
}

/** A caller with no request rate: `account` names its principal (grants of one principal share leases). */
const unlimited = (grant: string, account = 'carol'): CallerHeaders => ({
  grant,
  headers: { 'rosetta-grant': grant },
  principal: create(PrincipalSchema, { account, rateLimit: 0 }),
});
const value = (record: { value: Uint8Array } | undefined) =>
  record === undefined ? undefined : Buffer.from(record.value).toString();

describe('RecordReader with a lease cache', () => {
  it('asks for leases even for one key, then answers the same grant from the cache', async () => {
    const calls: SeenCall[] = [];
    const leases = leaseCache();
    const reader = new RecordReader(leasingRecords(calls), { leases });
    const carol = unlimited('gc');

    expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#1');
    expect(calls).toEqual([
      { method: 'batchGet', request: { collection: a, keys: ['k1'], leaseHolder: leases.holder } },
    ]);
    expect(leases.size.entries).toBe(1);

    const again = await reader.get(carol, a, 'k1');
    expect(value(again)).toBe('k1#1');
    expect(again?.revision).toBe(3n);
    expect(calls).toHaveLength(1);

    // A later grant of the same principal shares what the record service let it read.
    expect(value(await reader.get(unlimited('gc2'), a, 'k1'))).toBe('k1#1');
    expect(calls).toHaveLength(1);

    // Another principal was not let read it by the record service: it goes there.
    expect(value(await reader.get(unlimited('gd', 'dave'), a, 'k1'))).toBe('k1#2');
    expect(calls).toHaveLength(2);
  });

  it('renews a lease in the background once most of it is gone, answering from the cache meanwhile', async () => {
    const calls: SeenCall[] = [];
    const leases = leaseCache();
    const reader = new RecordReader(leasingRecords(calls), { leases });
    const carol = unlimited('gc');
    const start = performance.now();
    const now = jest.spyOn(performance, 'now');
    try {
      now.mockReturnValue(start);
      expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#1');
      // Past three quarters of the lease (5 s, counted at 95%): still a hit, and one renewal goes out.
      now.mockReturnValue(start + 3_700);
      expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#1');
      expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#1');
      await new Promise(setImmediate);
      await new Promise(setImmediate);
      expect(calls.map((c) => c.method)).toEqual(['batchGet', 'batchGet']);
      // The renewed lease runs from the renewal: past the first lease's end, still a hit (the
      // record at the same revision is the one kept).
      now.mockReturnValue(start + 6_000);
      expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#1');
      expect(calls).toHaveLength(2);
      // And past the renewed one's, a miss.
      now.mockReturnValue(start + 3_700 + 5_000);
      expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#3');
      expect(calls).toHaveLength(3);
    } finally {
      now.mockRestore();
    }
  });

  it("asks for leases on a turn's batch and keeps only the records leased", async () => {
    const calls: SeenCall[] = [];
    const leases = leaseCache();
    const reader = new RecordReader(
      leasingRecords(calls, (key) => key !== 'k2'),
      { leases },
    );
    const carol = unlimited('gc');

    const first = await Promise.all(['k1', 'k2', 'k3'].map((key) => reader.get(carol, a, key)));
    expect(first.map(value)).toEqual(['k1#1', 'k2#1', 'k3#1']);
    expect(calls).toEqual([
      { method: 'batchGet', request: { collection: a, keys: ['k1', 'k2', 'k3'], leaseHolder: leases.holder } },
    ]);
    expect(leases.size.entries).toBe(2);

    expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#1');
    expect(value(await reader.get(carol, a, 'k3'))).toBe('k3#1');
    expect(calls).toHaveLength(1);
    // Not leased, not kept: the record service is asked again.
    expect(value(await reader.get(carol, a, 'k2'))).toBe('k2#2');
    expect(calls).toHaveLength(2);
  });

  it.each<[string, CallerHeaders, CollectionRef]>([
    ['a caller without principal', { grant: 'gc', headers: { 'rosetta-grant': 'gc' } }, a],
    [
      'a caller held to a request rate',
      {
        grant: 'gc',
        headers: { 'rosetta-grant': 'gc' },
        principal: create(PrincipalSchema, { account: 'carol', rateLimit: 5 }),
      },
      a,
    ],
    ['a read of a version', unlimited('gc'), { ...a, version: 'v1' }],
  ])('never leases nor answers from the cache for %s', async (_name, caller, collection) => {
    const calls: SeenCall[] = [];
    const leases = leaseCache();
    const reader = new RecordReader(leasingRecords(calls), { leases });
    // The same grant holds k1 of the collection's default version.
    expect(value(await reader.get(unlimited('gc'), a, 'k1'))).toBe('k1#1');
    expect(leases.size.entries).toBe(1);

    expect(value(await reader.get(caller, collection, 'k1'))).toBe('k1#2');
    await Promise.all([reader.get(caller, collection, 'k1'), reader.get(caller, collection, 'k2')]);
    expect(calls.slice(1)).toEqual([
      { method: 'getRecord', request: { collection, key: 'k1' } },
      { method: 'batchGet', request: { collection, keys: ['k1', 'k2'] } },
    ]);
    expect(leases.size.entries).toBe(1);
  });

  it.each([
    ['never resumed', () => leaseCache(false)],
    [
      'suspended',
      () => {
        const cache = leaseCache();
        cache.suspend();
        return cache;
      },
    ],
  ])('reads as before with a cache %s', async (_name, makeCache) => {
    const calls: SeenCall[] = [];
    const leases = makeCache();
    expect(leases.available).toBe(false);
    const reader = new RecordReader(leasingRecords(calls), { leases });
    const carol = unlimited('gc');

    expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#1');
    expect(value(await reader.get(carol, a, 'k1'))).toBe('k1#2');
    await Promise.all([reader.get(carol, a, 'k1'), reader.get(carol, a, 'k2')]);
    expect(calls).toEqual([
      { method: 'getRecord', request: { collection: a, key: 'k1' } },
      { method: 'getRecord', request: { collection: a, key: 'k1' } },
      { method: 'batchGet', request: { collection: a, keys: ['k1', 'k2'] } },
    ]);
    expect(leases.size.entries).toBe(0);
  });
});
